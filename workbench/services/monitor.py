"""Production monitoring use cases: ingest event logs, per-version metrics, regression verdicts."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.periods import parse_since
from workbench.core.policy import event_time
from workbench.core.state_folder import STATE_FOLDER
from workbench.monitor.metrics import (
    NOT_ENOUGH,
    Verdict,
    VersionMetrics,
    compare_versions,
    daily_series,
    version_metrics,
)
from workbench.monitor.store import UNKNOWN_VERSION, IngestReport, MonitorStore
from workbench.services.deployment_events import current_events, deployments
from workbench.services.session import RepoSession

STORE = Path(STATE_FOLDER) / "monitor.sqlite"


def open_store(root: Path, *, read_only: bool = False) -> MonitorStore:
    return MonitorStore(Path(root) / STORE, read_only=read_only)


def ingest(root: Path, paths: list[Path]) -> IngestReport:
    store = open_store(root)
    try:
        return store.ingest(paths)
    finally:
        store.close()


@dataclass
class MonitorReport:
    prompt: str
    env: str
    versions: list[VersionMetrics]
    verdict: Verdict | None
    canary: Verdict | None = None
    deployments: list[Any] = field(default_factory=list)  # DeploymentEvent, oldest first
    series: list[tuple[float, int, float, float | None, float | None]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # e.g. a corrupt store was moved aside

    @property
    def waiting(self) -> bool:
        """The current version has too little traffic in its window to be judged yet."""
        return bool(self.verdict and self.verdict.status == NOT_ENOUGH)

    @property
    def regressed(self) -> bool:
        return bool((self.verdict and self.verdict.regressed) or (self.canary and self.canary.regressed))

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "env": self.env,
            "versions": [v.to_dict() for v in self.versions],
            "verdict": self.verdict.to_dict() if self.verdict else None,
            "canary": self.canary.to_dict() if self.canary else None,
            "regressed": self.regressed,
            "waiting": self.waiting,
            "deployments": [{"when": e.when, "action": e.action, "version": e.version, "reason": e.reason} for e in self.deployments],
            "warnings": self.warnings,
        }


def report(session: RepoSession, name: str, env: str = "prod", since: str | None = None, *, series: bool = False, now: float | None = None) -> MonitorReport:
    """Metrics per version of `name` in `env`, and the current version against the previous one.

    The verdict compares each version over its own window: the current version since it was
    deployed (this time: after a rollback, since the rollback), the previous one while it
    was deployed, both clipped to `since`. Without enough traffic in those windows the verdict
    is "not enough traffic yet" (see `workbench.monitor.metrics`).
    """
    # Oldest first, by sequence, skipped tags left out: the events `status` and the runtime read,
    # so the version judged is the one that runs (a later tag on a blob was judged instead).
    events = [event for event in reversed(deployments(session, name, env)) if not event.skipped]
    now = time.time() if now is None else now
    cutoff = parse_since(since, now)
    store = open_store(Path(session.root), read_only=session.read_only)
    try:
        def read() -> tuple[list[VersionMetrics], list[Any], Verdict | None, Verdict | None]:
            versions = version_metrics(store.db, name, env, cutoff)
            days = daily_series(store.db, name, env, cutoff) if series else []
            verdict, canary = _verdicts(store, name, env, events, versions, cutoff, now)
            return versions, days, verdict, canary

        versions, days, verdict, canary = store.guard(read)
        warnings = list(store.warnings)
    finally:
        store.close()
    return MonitorReport(name, env, versions, verdict, canary, events, days, warnings)


def _verdicts(
    store: MonitorStore, name: str, env: str, events: list[Any], versions: list[VersionMetrics], cutoff: float | None, now: float
) -> tuple[Verdict | None, Verdict | None]:
    if not events:  # no deployment events: the two versions seen last, in first-seen order
        merged = _merged(versions)
        if len(merged) < 2:
            return None, None
        ordered = sorted(merged.values(), key=lambda v: v.first_seen)
        return compare_versions(ordered[-2], ordered[-1]), None
    stints = _stints(events, now)
    current = stints[-1]
    current_rows = _window(store, name, env, current, cutoff)
    verdict = None
    if len(stints) >= 2:
        previous = stints[-2]
        previous_rows = _window(store, name, env, previous, cutoff)
        verdict = compare_versions(previous_rows, current_rows)
    canary = None
    event = events[-1]
    if event.canary is not None:
        start = max(event_start(event) or current.start, cutoff or 0.0)
        rows = version_metrics(store.db, name, env, start, None)
        arms = {row.arm: row for row in rows if row.version in (_label(event.version), _label(event.canary.version))}
        stable = arms.get("stable") or _empty(_label(event.version))
        trial = arms.get("canary") or _empty(_label(event.canary.version))
        canary = compare_versions(stable, trial)
    return verdict, canary


@dataclass(frozen=True)
class Stint:
    """A version serving the environment from `start` to `end` (unix seconds)."""

    version: str
    start: float
    end: float


def _label(version: str | None) -> str:
    return version or UNKNOWN_VERSION


def event_start(event: Any) -> float | None:
    """When a deployment event took over (unix seconds): the time of its sequence, which orders
    the events for `status` and the runtime, not the message's `when` (the writer's clock, or
    absent from a tag written by hand)."""
    moment = event_time(event)
    return moment.timestamp() if moment is not None else None


def _stints(events: list[Any], now: float) -> list[Stint]:
    """Deployment events (oldest first) as consecutive stints; a split does not change the version."""
    stints: list[Stint] = []
    commit = None
    for event in events:
        if event.action == "split" or event.commit == commit:
            continue
        start = event_start(event) or 0.0
        if stints:
            stints[-1] = Stint(stints[-1].version, stints[-1].start, start)
        stints.append(Stint(_label(event.version), start, now))
        commit = event.commit
    return stints


def _window(store: MonitorStore, name: str, env: str, stint: Stint, cutoff: float | None) -> VersionMetrics:
    start = max(stint.start, cutoff or 0.0)
    if start > stint.end:
        return _empty(stint.version)
    rows = version_metrics(store.db, name, env, start, stint.end, stint.version)
    return _merge(rows) if rows else _empty(stint.version)


def _empty(version: str) -> VersionMetrics:
    return VersionMetrics(version, None, 0, 0, 0.0, 0.0, None, None, None, None, 0, 0, 0.0, None, None, 0, 0)


def _merged(versions: list[VersionMetrics]) -> dict[str, VersionMetrics]:
    by_version: dict[str, list[VersionMetrics]] = {}
    for row in versions:
        by_version.setdefault(row.version, []).append(row)
    return {version: _merge(rows) for version, rows in by_version.items()}


def _merge(rows: list[VersionMetrics]) -> VersionMetrics:
    """One version's arms folded together (weighted means; percentiles of the largest arm)."""
    if len(rows) == 1:
        return rows[0]
    calls = sum(r.calls for r in rows)
    biggest = max(rows, key=lambda r: r.calls)

    def weighted(attr: str, weight: str) -> float | None:
        pairs = [(getattr(r, attr), getattr(r, weight)) for r in rows if getattr(r, attr) is not None]
        total = sum(w for _, w in pairs)
        return sum(v * w for v, w in pairs) / total if total else None

    return VersionMetrics(
        biggest.version, None, calls, sum(r.errors for r in rows), min(r.first_seen for r in rows), max(r.last_seen for r in rows),
        weighted("latency_mean", "latency_n"), biggest.latency_sd, biggest.latency_p50, biggest.latency_p95, sum(r.latency_n for r in rows),
        sum(r.tokens for r in rows), sum(r.cost for r in rows), weighted("score_mean", "score_n"), biggest.score_sd,
        sum(r.score_n for r in rows), sum(r.feedback for r in rows),
    )


def report_all(session: RepoSession, env: str = "prod", since: str | None = None) -> list[MonitorReport]:
    """Every prompt deployed to `env`, with its verdict."""
    return [report(session, name, env, since) for name in sorted(current_events(session, env))]
