"""The `workbench` console script (and `python -m workbench`).

Ctrl+C while the CLI is still being imported (its first ~0.15 s: Typer, Rich, our modules)
ends it as it does later, "interrupted" and exit 130, not with a traceback: this module
imports nothing but `sys` before it can catch it.
"""

from __future__ import annotations

import sys

from workbench import start_up


def main() -> None:
    start_up.pause()  # for the imports: `workbench ui` pauses it again until its first paint
    try:
        from workbench.cli import main as run_cli

        start_up.resume()
        run_cli()
    except KeyboardInterrupt:
        sys.stderr.write("workbench: interrupted\n")
        raise SystemExit(130) from None
