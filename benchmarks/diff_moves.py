"""What each History move costs: a diff in one session, and the partials' users it names.

Medians of RUNS (31) in one session of the demo repository (made in FOLDER when it is not
there); with --wide, 400 more prompts that each include a partial. Run it against other code
to compare: `PYTHONPATH=<other checkout> python benchmarks/diff_moves.py FOLDER [--wide]`.

    python benchmarks/diff_moves.py /tmp/demo-moves [--wide]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

if "PYTHONPATH" not in os.environ:  # else the code to measure is the one it names
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workbench.services import diffing, prompt_files
from workbench.services.demo import create_demo_repo
from workbench.services.session import RepoSession

RUNS = 31
WIDE = 400


def make(root: Path, *, wide: bool) -> None:
    create_demo_repo(root)
    if wide:
        (root / "prompts" / "wide").mkdir(parents=True)
        (root / "prompts" / "wide" / "part.jinja").write_text("Be kind.\n")
        for i in range(WIDE):
            (root / "prompts" / "wide" / f"p{i:03}.yaml").write_text(
                "model: {provider: echo}\nmessages:\n  - role: user\n    content: \"{% include 'wide/part.jinja' %} hi\"\n"
            )
        subprocess.run(["git", "add", "-A"], cwd=root, check=True)
        subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@example.com", "commit", "-qm", "wide"], cwd=root, check=True)
    time.sleep(2.5)  # files changed this recently are read again each time (`prompt_files._RACY_NS`)


def median_ms(run: Callable[[], object]) -> float:
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    root = Path(sys.argv[1])
    if not (root / ".git").exists():
        make(root, wide="--wide" in sys.argv)
    with RepoSession.open(root) as session:
        users = prompt_files.partial_users(session, None)
        name = next(user for _partial, names in sorted(users.items()) for user in names)
        head = session.store.resolve("HEAD")
        print(f"{root}: {name}; {sum(map(len, users.values()))} uses of partials; median of {RUNS}")
        print(f"  partial_users(commit):       {median_ms(lambda: prompt_files.partial_users(session, head)):7.2f} ms")
        print(f"  partial_users(working copy): {median_ms(lambda: prompt_files.partial_users(session, None)):7.2f} ms")
        print(f"  diff HEAD~1..HEAD:           {median_ms(lambda: diffing.diff(session, name, 'HEAD~1', 'HEAD')):7.2f} ms")
        print(f"  diff HEAD..working copy:     {median_ms(lambda: diffing.diff(session, name, 'HEAD', None)):7.2f} ms")


if __name__ == "__main__":
    main()
