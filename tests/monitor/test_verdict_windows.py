"""The verdict compares versions over their own deployment windows, and only with enough traffic."""

from __future__ import annotations

import json
import random
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from workbench.cli.common import run_app
from workbench.monitor.metrics import NOT_ENOUGH, calls_needed, can_detect
from workbench.services import deployments, releases
from workbench.services import monitor as service
from workbench.services.session import RepoSession

NAME = "support/summarize"
DAY = 86400.0
T0 = datetime(2026, 3, 1, tzinfo=UTC).timestamp()


def _new_version(root: Path, text: str) -> None:
    path = root / "prompts" / "support" / "summarize.yaml"
    path.write_text(path.read_text().replace("three short", text, 1) if "three short" in path.read_text() else path.read_text() + f"# {text}\n")
    subprocess.run(["git", "commit", "-qam", text], cwd=root, check=True)


def _deploy(ws: RepoSession, when: float, rev: str = "HEAD") -> str:
    ws.clock = lambda: datetime.fromtimestamp(when, UTC)
    releases.tag_release(ws, NAME)
    event = deployments.promote(ws, NAME, "prod", rev=rev, reason=f"deploy at {when}")
    return str(event.version)


def _traffic(path: Path, version: str, start: float, end: float, n: int, error_rate: float, seed: int) -> None:
    rng = random.Random(seed)
    with path.open("a") as handle:
        for i in range(n):
            failed = rng.random() < error_rate
            handle.write(json.dumps({
                "call_id": f"{version}-{seed}-{i}", "ts": start + (end - start) * i / n, "name": NAME, "version": version, "env": "prod",
                "latency_ms": rng.gauss(800, 80), "error": "timeout" if failed else None, "score": None if failed else 0.8,
            }) + "\n")


@pytest.fixture
def history(prompt_repo: Path, tmp_path: Path) -> tuple[Path, Path, list[str]]:
    """v1 served 10 days (good), v2 served 10 days (bad): events for both."""
    log = tmp_path / "events.jsonl"
    versions = []
    with RepoSession.open(prompt_repo) as ws:
        versions.append(_deploy(ws, T0))
        _new_version(prompt_repo, "two short")
        versions.append(_deploy(ws, T0 + 10 * DAY))
    _traffic(log, versions[0], T0, T0 + 10 * DAY, 3000, 0.01, 1)
    _traffic(log, versions[1], T0 + 10 * DAY, T0 + 20 * DAY, 3000, 0.10, 2)
    service.ingest(prompt_repo, [log])
    return prompt_repo, log, versions


def test_a_fresh_promotion_without_traffic_is_not_judged_by_older_versions(history: tuple[Path, Path, list[str]], capsys: pytest.CaptureFixture[str]) -> None:
    root, _, (_, v2) = history
    _new_version(root, "one short")
    with RepoSession.open(root) as ws:
        v3 = _deploy(ws, T0 + 20 * DAY)
        report = service.report(ws, NAME, "prod", now=T0 + 20 * DAY + 60)
    assert report.verdict is not None and report.verdict.status == NOT_ENOUGH
    assert report.verdict.current == v3 and report.verdict.previous == v2
    assert not report.regressed and report.waiting
    assert run_app(["-C", str(root), "monitor", NAME]) == 0
    assert NOT_ENOUGH in capsys.readouterr().out


def test_after_a_rollback_old_traffic_of_the_restored_version_does_not_count(history: tuple[Path, Path, list[str]]) -> None:
    root, log, (v1, v2) = history
    with RepoSession.open(root) as ws:
        ws.clock = lambda: datetime.fromtimestamp(T0 + 20 * DAY, UTC)
        deployments.rollback(ws, NAME, "prod", reason="v2 doubled the errors")
        report = service.report(ws, NAME, "prod", now=T0 + 20 * DAY + 60)
        assert report.verdict is not None and report.verdict.status == NOT_ENOUGH
        assert report.verdict.current == v1 and report.verdict.previous == v2
        _traffic(log, v1, T0 + 20 * DAY + 3600, T0 + 22 * DAY, 800, 0.01, 3)
        service.ingest(root, [log])
        report = service.report(ws, NAME, "prod", now=T0 + 22 * DAY)
        assert report.verdict is not None and report.verdict.status == "improved", report.verdict.text


def test_the_current_version_is_judged_only_on_its_own_window(history: tuple[Path, Path, list[str]]) -> None:
    root, _, (v1, _) = history
    with RepoSession.open(root) as ws:
        report = service.report(ws, NAME, "prod", now=T0 + 20 * DAY)
        assert report.verdict is not None and report.verdict.status == "regressed"
        # --since shorter than v2's stint: v1 has no traffic left in the window
        recent = service.report(ws, NAME, "prod", since="3d", now=T0 + 20 * DAY)
    assert recent.verdict is not None and recent.verdict.status == NOT_ENOUGH
    assert f"{v1} has only 0 call(s)" in recent.verdict.text


def test_enough_traffic_rule() -> None:
    assert not can_detect(5000, 50, 0) and not can_detect(5000, 50, 29)
    needed = calls_needed(5000, 100)  # previous version: 2% errors over 5,000 calls
    assert needed is not None and 100 < needed < 200
    assert can_detect(5000, 100, needed) and not can_detect(5000, 100, needed - 1)
    assert calls_needed(40, 4) is None  # 40 calls at 10%: no amount of new traffic is enough
    assert calls_needed(5000, 500) > calls_needed(5000, 100)  # type: ignore[operator]


def _hand_tag(root: Path, target: str, seq: str, version: str, action: str = "promote") -> None:
    """A deploy tag written by hand (another tool, an old version): a message without `when`."""
    message = f"{action}\n\n" + "\n".join(['prompt: "support/summarize"', 'env: "prod"', f'action: "{action}"', f'version: "{version}"', 'reason: "by hand"']) + "\n"
    subprocess.run(["git", "tag", "-a", f"deploy/prod/support/summarize/{seq}", "-m", message, target], cwd=root, check=True)


def test_the_monitor_judges_the_version_that_runs(history: tuple[Path, Path, list[str]]) -> None:
    """The monitor replayed every deploy tag: a later tag on a blob (skipped: status and the
    runtime serve v2) became its current version, with no traffic, so v2's regression was
    "not enough traffic yet" and no REGRESSED banner. It reads the events as status does now."""
    from workbench import PromptRepo

    root, _, (v1, v2) = history
    blob = subprocess.run(["git", "rev-parse", "HEAD:prompts/support/summarize.yaml"], cwd=root, check=True, capture_output=True, text=True).stdout.strip()
    _hand_tag(root, blob, "20991231000000000-bbbbbbbb", "support/summarize@v9")
    with PromptRepo(root) as prompts:
        assert prompts.get(NAME, env="prod").version == v2
    with RepoSession.open(root) as ws:
        report = service.report(ws, NAME, "prod", now=T0 + 20 * DAY)
    assert report.verdict is not None and (report.verdict.current, report.verdict.previous) == (v2, v1)
    assert report.regressed and not report.waiting
    assert all(not event.skipped for event in report.deployments)


def test_a_stint_starts_at_its_event_s_sequence_not_at_the_time_its_message_says(history: tuple[Path, Path, list[str]]) -> None:
    """A stint began at the message's `when`: a rollback tag without one (written by hand, by
    another tool) began at 1970, so weeks-old traffic of the restored version counted and v2's
    stint ended before it began ("not enough traffic" for good). The sequence orders the events
    for status and the runtime; it places the windows too."""
    root, log, (v1, v2) = history
    v1_commit = subprocess.run(["git", "rev-parse", f"{v1}^{{commit}}"], cwd=root, check=True, capture_output=True, text=True).stdout.strip()
    _hand_tag(root, v1_commit, "20260321000000000-cccccccc", v1, "rollback")
    _traffic(log, v1, T0 + 20 * DAY + 3600, T0 + 22 * DAY, 800, 0.01, 3)
    service.ingest(root, [log])
    with RepoSession.open(root) as ws:
        report = service.report(ws, NAME, "prod", now=T0 + 22 * DAY)
    assert report.verdict is not None and (report.verdict.current, report.verdict.previous) == (v1, v2)
    assert report.verdict.status == "improved", report.verdict.text
