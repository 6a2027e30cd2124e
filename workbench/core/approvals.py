"""Approval records: who approved which version of a prompt for which environment, when and why.

An approval is an annotated tag `approve/<env>/<prompt>/<seq>` (named by `core.versions`,
beside the deployment events) pointing at the approved commit. Like deployment events,
approvals are append-only: they are never moved or deleted, and travel with push and fetch.
The message is a one-line title, a blank line and one `key: <JSON>` line per field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from workbench.core.versions import parse_approve_tag

APPROVAL_FIELDS = ("prompt", "env", "seq", "version", "commit", "who", "when", "reason")


@dataclass(frozen=True)
class Approval:
    tag: str
    prompt: str
    env: str
    seq: str
    commit: str
    version: str | None = None
    who: str = ""  # `Name <email>`, Git's committer identity (the tagger)
    when: str = ""
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "prompt": self.prompt,
            "env": self.env,
            "seq": self.seq,
            "version": self.version,
            "commit": self.commit,
            "who": self.who,
            "when": self.when,
            "reason": self.reason,
        }


def format_approval_message(approval: Approval) -> str:
    title = f"approve {approval.prompt} for {approval.env} at {approval.version or approval.commit[:10]}"
    body = approval.to_dict()
    lines = [f"{key}: {json.dumps(body[key], ensure_ascii=False)}" for key in APPROVAL_FIELDS]
    return title.replace("\n", " ") + "\n\n" + "\n".join(lines) + "\n"


def parse_approval_message(tag: str, commit: str, message: str, tagger: str = "") -> Approval | None:
    """An approval from its tag name, target commit and message; None for other tags.

    `tagger` (Git's record of who made the tag) wins over the message's `who`: the message is
    free text anyone could write, the tagger is what Git recorded.
    """
    parsed = parse_approve_tag(tag)
    if parsed is None:
        return None
    env, prompt, seq = parsed
    values: dict[str, Any] = {}
    _, _, body = message.partition("\n\n")
    for line in body.splitlines():
        key, sep, raw = line.partition(": ")
        if sep and key in APPROVAL_FIELDS:
            try:
                values[key] = json.loads(raw)
            except ValueError:
                values[key] = raw
    version = values.get("version")
    return Approval(
        tag=tag,
        prompt=prompt,
        env=env,
        seq=seq,
        commit=commit,
        version=None if version is None else str(version),
        who=tagger or str(values.get("who") or ""),
        when=str(values.get("when") or ""),
        reason=str(values.get("reason") or ""),
    )
