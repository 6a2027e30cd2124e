"""`python -m workbench`."""

from workbench.console import main

main()
