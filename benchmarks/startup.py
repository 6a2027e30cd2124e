"""Start-up time of the CLI: `workbench --version` and `workbench validate` on the sample prompts.

Prints the median of 10 wall-clock runs of each (fresh processes) and the ratio to the
targets of issue 3: 0.3 s and 0.6 s on the project's 2-core machine. For comparison,
`promptfoo --version` measured 1.49 s there.
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNS = 10
TARGETS = {"--version": 0.3, "validate": 0.6}


def wall(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, cwd=ROOT, check=False, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    exe = shutil.which("workbench") or str(Path(sys.executable).with_name("workbench"))
    print(f"{'command':<22} {'median s':>9} {'target s':>9} {'ratio':>6}")
    for command, target in TARGETS.items():
        wall([exe, command])  # warm the file cache
        times = [wall([exe, command]) for _ in range(RUNS)]
        median = statistics.median(times)
        print(f"workbench {command:<12} {median:>9.3f} {target:>9.2f} {median / target:>6.2f}")


if __name__ == "__main__":
    main()
