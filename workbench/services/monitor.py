"""Production monitoring use cases: ingest event logs, per-version metrics, regression verdicts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.monitor.metrics import (
    Verdict,
    VersionMetrics,
    compare_versions,
    daily_series,
    parse_since,
    version_metrics,
)
from workbench.monitor.store import IngestReport, MonitorStore
from workbench.services.deployment_events import current_events, deployments
from workbench.services.session import RepoSession

STORE = Path(".workbench") / "monitor.sqlite"


def open_store(root: Path) -> MonitorStore:
    return MonitorStore(Path(root) / STORE)


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
            "deployments": [{"when": e.when, "action": e.action, "version": e.version, "reason": e.reason} for e in self.deployments],
        }


def report(session: RepoSession, name: str, env: str = "prod", since: str | None = None, *, series: bool = False) -> MonitorReport:
    """Metrics per version of `name` in `env`, and the current version against the previous one."""
    events = list(reversed(deployments(session, name, env)))  # oldest first
    store = open_store(Path(session.root))
    try:
        cutoff = parse_since(since)
        versions = version_metrics(store.db, name, env, cutoff)
        days = daily_series(store.db, name, env, cutoff) if series else []
    finally:
        store.close()
    by_version: dict[str, list[VersionMetrics]] = {}
    for row in versions:
        by_version.setdefault(row.version, []).append(row)
    merged = {version: _merge(rows) for version, rows in by_version.items()}
    current_event = events[-1] if events else None
    verdict = canary = None
    if current_event is not None and current_event.version in merged:
        previous_version = _previous_version(events)
        if previous_version in merged:
            verdict = compare_versions(merged[previous_version], merged[current_event.version])
    elif len(merged) >= 2:  # no deployment events: first-seen order
        ordered = sorted(merged.values(), key=lambda v: v.first_seen)
        verdict = compare_versions(ordered[-2], ordered[-1])
    if current_event is not None and current_event.canary is not None:
        arms = {row.arm: row for row in versions if row.version in (current_event.version, current_event.canary.version)}
        if "stable" in arms and "canary" in arms:
            canary = compare_versions(arms["stable"], arms["canary"])
    return MonitorReport(name, env, versions, verdict, canary, events, days)


def _previous_version(events: list[Any]) -> str | None:
    current = events[-1]
    for event in reversed(events[:-1]):
        if event.version != current.version:
            return str(event.version)
    return None


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
