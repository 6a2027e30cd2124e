"""What guarded environments cost: `workbench audit` over 3,000 events, and a promotion plan's policy check.

On a clone of the synthetic repository (`gen_synthetic_repo.py`: 2,000 prompts, 20,000 commits,
3,000 deployment events) whose main branch guards prod (`from: staging`, `require_tests: pass`,
`approvals: 1`) from before the first event. Medians of N fresh sessions (audit) and of N
plans in one warm session (promote), printed with the same plan without a policy.

    python benchmarks/audit.py [N]
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.gen_synthetic_repo import START, ensure_synthetic_repo, prompt_name
from workbench.services import audit, deployments
from workbench.services.session import RepoSession

POLICY = "environments:\n  - dev\n  - staging\n  - name: prod\n    from: staging\n    require_tests: pass\n    approvals: 1\n"


def git(root: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True, env={**os.environ, **(env or {})}).stdout


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    source = ensure_synthetic_repo()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "guarded"
        git(Path(tmp), "clone", "-q", str(source), str(root))
        git(root, "fetch", "-q", "origin", "refs/tags/*:refs/tags/*")
        (root / "workbench.yaml").write_text(POLICY)
        git(root, "add", "workbench.yaml")
        stamp = (START + timedelta(days=399)).isoformat()  # after every commit, before every event
        identity = {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "b@example.com", "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "b@example.com"}
        git(root, "commit", "-qm", "Guard prod", env={**identity, "GIT_COMMITTER_DATE": stamp, "GIT_AUTHOR_DATE": stamp})
        times = []
        report = None
        for _ in range(runs):
            started = time.perf_counter()
            with RepoSession.open(root) as session:
                report = audit.audit(session)
            times.append(time.perf_counter() - started)
        assert report is not None
        counts = report.counts()
        print(f"audit, {len(report.findings)} events ({counts}): median {statistics.median(times) * 1000:.0f} ms over {runs} cold sessions")
        os.environ.update(identity)
        name = prompt_name(7)
        with RepoSession.open(root) as session:
            for label, policies in (("with the prod policy", session.config.policies), ("without a policy", {})):
                session.config = type(session.config)(**{**session.config.__dict__, "policies": policies})
                plan_times = []
                for _ in range(runs * 4):
                    started = time.perf_counter()
                    deployments.plan_promote(session, name, "prod" if policies else "dev")
                    plan_times.append(time.perf_counter() - started)
                print(f"plan_promote {label}: median {statistics.median(plan_times) * 1000:.1f} ms (warm session)")


if __name__ == "__main__":
    main()
