"""The one rule naming the version a deployment event deployed: the release tags of its tag's commit.

An event's message records the label it had when written, but the tag's target is what runs:
`status` and the runtime labelled from the release tags while `history`, `audit` and export's
manifest used the message, so a valid v2 message copied onto a tag pointing at v5's commit was
served as v5 and reported as v2 (audit then judged the wrong version). Every reader now labels
through `labelled`.
"""

from __future__ import annotations

from dataclasses import replace

from workbench.core.event_seq import seq_time
from workbench.core.versions import DeploymentEvent, ReleaseTag


def labelled(event: DeploymentEvent, release: ReleaseTag | None) -> DeploymentEvent:
    """`event` labelled with `release` (the highest release of its prompt at its commit; None:
    unreleased, the message's label is kept).

    A message naming another version is the event's problem when the release was tagged in a
    second before the event's; one made after it (an unpushed release renumbered by `fetch`) is the
    label the event could not know.
    """
    if release is None or event.skipped or event.version == release.label:
        return event
    written = seq_time(event.seq)
    # Git records a tag's time in whole seconds: a release tagged in the event's own second may be a renumbering.
    if event.version is None or not release.when or written is None or release.when >= int(written.timestamp()):
        return replace(event, version=release.label)
    problem = f"the message says version {event.version[:80]!r} but the tag points at {release.label} (labelled {release.label})"
    return replace(event, version=release.label, problem="; ".join(p for p in (problem, event.problem) if p))
