"""Sample prompts shipped with the package (the demo and the tests use them)."""
