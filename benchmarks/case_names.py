"""How long naming the cases of a run takes (`run_model.case_names`), where many are alike.

Three shapes, each with N = 1,000, 4,000 and 16,000 cases: N literal `x (k)` beside N tests
described `x` (the numbered ones go past the literal numbers), the same case N times (each
goes past the names of the ones before), and N repeats of `x` beside literal `x #k`. Prints
the best of RUNS for each. Run it against other code to compare:
`PYTHONPATH=<other checkout> python benchmarks/case_names.py [N ...]`.

    python benchmarks/case_names.py
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

if "PYTHONPATH" not in os.environ:  # else the code to measure is the one it names
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workbench.evals.run_model import Case, case_names

RUNS = 3
SHAPES: dict[str, Callable[[int], list[Case]]] = {
    "literal x (k) + n alike": lambda n: [(f"x ({k})", 0, 0) for k in range(2, n + 2)] + [("x", o, 0) for o in range(n)],
    "the same case n times": lambda n: [("x", 0, 0)] * n,
    "repeats + literal x #k": lambda n: [("x", 0, r) for r in range(n)] + [(f"x #{r + 1}", 0, 0) for r in range(1, n)],
}


def main(sizes: list[int]) -> None:
    for shape, make in SHAPES.items():
        for n in sizes:
            cases = make(n)
            best = float("inf")
            for _ in range(RUNS):
                start = time.perf_counter()
                case_names(cases)
                best = min(best, time.perf_counter() - start)
            print(f"{shape:26} {n:>6} cases {best * 1000:9.1f} ms", flush=True)


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1000, 4000, 16000])
