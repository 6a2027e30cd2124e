#!/usr/bin/env bash
# action.yml, step `install`: put `workbench` on PATH.
#   INPUT_INSTALL  empty: the workbench at this action's own ref ($GITHUB_ACTION_PATH);
#                  "false": use the workbench already on PATH; else a pip requirement.
set -euo pipefail
spec="${INPUT_INSTALL:-}"
if [ "$spec" = false ]; then
  if ! command -v workbench >/dev/null 2>&1; then
    echo "::error title=Prompt Workbench::install is false but no workbench is on PATH"
    exit 1
  fi
else
  python3 -m pip install --disable-pip-version-check --quiet "${spec:-$GITHUB_ACTION_PATH}"
fi
echo "workbench=$(command -v workbench || echo workbench)" >> "$GITHUB_OUTPUT"
workbench --version
