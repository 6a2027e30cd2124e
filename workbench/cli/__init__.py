"""The command line: parses, calls services, prints (rich) or --json.

Each area registers its commands from its own module; every module imports heavy
dependencies (git, openai, textual, the evaluation engine) inside the command bodies so
that `workbench --version`, `list` and `validate` start fast.
"""

from __future__ import annotations

import sys

from workbench.cli.common import app, run_app

# Registration side effects: each module adds its commands to `app`.
from workbench.cli import prompt_cmds as _prompt_cmds  # noqa: F401  isort: skip
from workbench.cli import version_cmds as _version_cmds  # noqa: F401  isort: skip
from workbench.cli import eval_cmds as _eval_cmds  # noqa: F401  isort: skip
from workbench.cli import monitor_cmds as _monitor_cmds  # noqa: F401  isort: skip
from workbench.cli import ui_cmds as _ui_cmds  # noqa: F401  isort: skip
from workbench.cli import import_cmds as _import_cmds  # noqa: F401  isort: skip

__all__ = ["app", "main"]


def main() -> None:
    sys.exit(run_app(sys.argv[1:]))
