"""Version, release and deployment records, and the pure rules that name them in Git.

The Git adapter (`workbench.vcs`) returns these plain dataclasses, never GitPython objects,
so that services, the TUI, evals and monitor can all use them without importing Git.

Ref names. Git forbids spaces, `~^:?*[\\`, control characters, `..`, `@{` and a few other
shapes in ref names, but prompt names may contain spaces or any Unicode. A prompt name is
therefore percent-encoded (only the forbidden bytes, plus `%` itself) when it becomes part of
a tag name: `prompts/my prompt.yaml` is released as `my%20prompt@v1`. Unicode stays readable.

Deployment events are annotated tags `deploy/<env>/<name>/<seq>`. The `seq` is
`<UTC time, 17 digits yyyymmddHHMMSSmmm>-<8 hex digits>` where the hex digits are a hash of
who, commit and random bytes, so two clones promoting at the same millisecond never pick the
same tag name. The total order of events for one prompt in one environment is the plain string
order of `seq` (time first, then the suffix): every clone computes the same order from the
same tags. A new event's time is `max(now, latest existing event + 1 ms)`, so an event made
after seeing another one always sorts after it even when the clocks of two clones disagree.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NamedTuple

from workbench.core.event_fields import checked_fields
from workbench.core.event_seq import make_seq as make_seq  # re-exported: where callers found it
from workbench.core.event_seq import seq_time

# At most 18 digits (a number SQLite and every reader hold): `int()` of a pushed `p@v<5,000
# digits>` raised ValueError past Python's 4,300-digit limit. `\Z`: `$` also matches before a final newline.
RELEASE_NUMBER = r"[1-9][0-9]{0,17}"
MAX_RELEASE = 10**18 - 1
RELEASE_TAG_RE = re.compile(rf"^(?P<name>.+)@v(?P<number>{RELEASE_NUMBER})\Z")
DEPLOY_PREFIX = "deploy/"
SEQ_RE = re.compile(r"^(?P<ms>[0-9]{17})-(?P<suffix>[0-9a-f]{8})$")
EVENT_ACTIONS = ("promote", "rollback", "split", "finish")
# Fields of a deployment event body, in the order they are written.
EVENT_FIELDS = (
    "prompt",
    "env",
    "seq",
    "action",
    "version",
    "commit",
    "previous_version",
    "previous_commit",
    "reason",
    "who",
    "when",
    "tests",
    "canary",
    "override",  # the policy rules a `--override` deployment broke (absent in older events)
)

_FORBIDDEN_REF_CHARS = set(" ~^:?*[\\%\x7f") | {chr(c) for c in range(32)}


def _pct(ch: str) -> str:
    return "".join(f"%{b:02X}" for b in ch.encode("utf-8"))


def encode_ref_component(name: str) -> str:
    """Encode a prompt name for use inside a ref name (slashes kept, forbidden bytes `%XX`)."""
    parts = []
    for part in name.split("/"):
        out = "".join(_pct(ch) if ch in _FORBIDDEN_REF_CHARS else ch for ch in part)
        out = out.replace("..", ".%2E").replace("@{", "@%7B")
        if out.startswith("."):
            out = "%2E" + out[1:]
        if out.endswith("."):
            out = out[:-1] + "%2E"
        if out.endswith(".lock"):
            out = out[: -len(".lock")] + "%2Elock"
        if out == "@":
            out = "%40"
        parts.append(out)
    return "/".join(parts)


_PCT_RE = re.compile(r"(?:%[0-9A-Fa-f]{2})+")


def decode_ref_component(text: str) -> str:
    """Inverse of `encode_ref_component`."""
    if "%" not in text:
        return text
    return _PCT_RE.sub(lambda m: bytes.fromhex(m.group(0).replace("%", "")).decode("utf-8", "replace"), text)


def release_tag_name(prompt: str, number: int) -> str:
    """`support/summarize`, 3 -> `support/summarize@v3` (the tag name, without `refs/tags/`)."""
    return f"{encode_ref_component(prompt)}@v{number}"


def release_label(prompt: str, number: int) -> str:
    """The human name of a release: `support/summarize@v3` (not encoded)."""
    return f"{prompt}@v{number}"


def parse_release_tag(tag: str) -> tuple[str, int] | None:
    """`support/summarize@v3` -> (`support/summarize`, 3); None for other tags."""
    if tag.startswith(DEPLOY_PREFIX):
        return None
    match = RELEASE_TAG_RE.match(tag)
    if not match:
        return None
    return decode_ref_component(match.group("name")), int(match.group("number"))


def parse_release_label(text: str) -> tuple[str, int] | None:
    """Parse a user-typed `name@vN` (not encoded)."""
    match = RELEASE_TAG_RE.match(text)
    if not match:
        return None
    return match.group("name"), int(match.group("number"))


def deploy_tag_prefix(env: str, prompt: str | None = None) -> str:
    """`deploy/prod/` or `deploy/prod/support/summarize/` (without `refs/tags/`)."""
    if prompt is None:
        return f"{DEPLOY_PREFIX}{encode_ref_component(env)}/"
    return f"{DEPLOY_PREFIX}{encode_ref_component(env)}/{encode_ref_component(prompt)}/"


def deploy_tag_name(env: str, prompt: str, seq: str) -> str:
    return deploy_tag_prefix(env, prompt) + seq


def parse_deploy_tag(tag: str) -> tuple[str, str, str] | None:
    """`deploy/prod/support/summarize/<seq>` -> (env, prompt, seq); None for other tags."""
    if not tag.startswith(DEPLOY_PREFIX):
        return None
    rest = tag[len(DEPLOY_PREFIX) :]
    env, _, rest = rest.partition("/")
    prompt, _, seq = rest.rpartition("/")
    if not env or not prompt or not SEQ_RE.match(seq):
        return None
    return decode_ref_component(env), decode_ref_component(prompt), seq


APPROVE_PREFIX = "approve/"


def approve_tag_prefix(env: str, prompt: str | None = None) -> str:
    """`approve/prod/` or `approve/prod/support/summarize/`: approvals sit beside deployment events."""
    return APPROVE_PREFIX + deploy_tag_prefix(env, prompt)[len(DEPLOY_PREFIX) :]


def approve_tag_name(env: str, prompt: str, seq: str) -> str:
    return approve_tag_prefix(env, prompt) + seq


def parse_approve_tag(tag: str) -> tuple[str, str, str] | None:
    """`approve/prod/support/summarize/<seq>` -> (env, prompt, seq); None for other tags."""
    if not tag.startswith(APPROVE_PREFIX):
        return None
    return parse_deploy_tag(DEPLOY_PREFIX + tag[len(APPROVE_PREFIX) :])


class WorkingState(StrEnum):
    """The state of one prompt file in the working copy, relative to HEAD."""

    CLEAN = "clean"
    MODIFIED = "modified"
    NEW = "new"
    DELETED = "deleted"
    INVALID = "invalid"  # present in the working copy but fails to load
    CONFLICTED = "conflicted"  # unmerged paths during a merge


class PromptRef(NamedTuple):
    """A prompt file at a revision: its name, repo path and blob id (empty for the working copy).

    A NamedTuple rather than a dataclass: listings build thousands of these at once.
    """

    name: str
    path: str
    blob: str = ""
    commit: str = ""


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    author_time: int  # unix seconds
    committer_time: int
    subject: str
    body: str = ""

    @property
    def short(self) -> str:
        return self.sha[:10]

    @property
    def author(self) -> str:
        return f"{self.author_name} <{self.author_email}>"

    def to_dict(self) -> dict[str, Any]:
        return {
            "sha": self.sha,
            "parents": list(self.parents),
            "author_name": self.author_name,
            "author_email": self.author_email,
            "author_time": datetime.fromtimestamp(self.author_time, UTC).isoformat(),
            "subject": self.subject,
            "body": self.body,
        }


@dataclass(frozen=True)
class ReleaseTag:
    """An annotated release tag `<name>@v<N>`."""

    prompt: str
    number: int
    tag: str  # tag name without refs/tags/
    commit: str
    note: str = ""
    when: int = 0  # unix seconds the tag was made (0: not read)
    who: str = ""  # the tagger

    @property
    def label(self) -> str:
        return release_label(self.prompt, self.number)


@dataclass(frozen=True)
class Canary:
    version: str | None
    commit: str
    percent: float

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "commit": self.commit, "percent": self.percent}


@dataclass(frozen=True)
class DeploymentEvent:
    """One promotion, rollback, split start or split finish of a prompt in an environment."""

    tag: str
    prompt: str
    env: str
    seq: str
    action: str
    version: str | None
    commit: str
    previous_version: str | None = None
    previous_commit: str | None = None
    reason: str = ""
    who: str = ""
    when: str = ""
    tests: str | None = None
    canary: Canary | None = None
    override: tuple[str, ...] = ()  # the rules an emergency `--override` broke; empty: none
    problem: str = ""  # values of the message left out for their shape (`core/event_fields.py`)
    # The tag points at a blob or a tree, not a commit: it says nothing about what runs, so the
    # environment runs what the event before it says (`deployment_events.current_event`).
    skipped: bool = False

    @property
    def when_datetime(self) -> datetime | None:
        try:
            return datetime.fromisoformat(self.when.replace("Z", "+00:00"))
        except ValueError:
            return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "prompt": self.prompt,
            "env": self.env,
            "seq": self.seq,
            "action": self.action,
            "version": self.version,
            "commit": self.commit,
            "previous_version": self.previous_version,
            "previous_commit": self.previous_commit,
            "reason": self.reason,
            "who": self.who,
            "when": self.when,
            "tests": self.tests,
            "canary": self.canary.to_dict() if self.canary else None,
            "override": list(self.override) or None,
            "problem": self.problem or None,
        }


def format_event_message(event: DeploymentEvent) -> str:
    """The annotated tag message: a one-line title, a blank line, a YAML body.

    Every value is written as JSON (a subset of YAML flow syntax) on one line, so any YAML
    reader can read it and `parse_event_message` can read thousands of them quickly.
    """
    title_action = {"promote": "promote", "rollback": "roll back", "split": "split", "finish": "finish split of"}[
        event.action
    ]
    target = event.version or event.commit[:10]
    title = f"{title_action} {event.prompt} in {event.env} to {target}"
    if event.action == "split" and event.canary is not None:
        title = f"split {event.prompt} in {event.env}: {event.canary.percent:g}% to {event.canary.version or event.canary.commit[:10]}"
    if event.override:
        title = "OVERRIDE: " + title
    body = event.to_dict()
    lines = [f"{key}: {json.dumps(body[key], ensure_ascii=False)}" for key in EVENT_FIELDS if key != "override" or event.override]
    return title.replace("\n", " ") + "\n\n" + "\n".join(lines) + "\n"


# The last field (`override`) is optional: events written before it existed still match.
_BODY_RE = re.compile("".join(f"\n{key}: (.*)" for key in EVENT_FIELDS[:-1]) + f"(?:\n{EVENT_FIELDS[-1]}: (.*))?")
# prompt, env and seq come from the tag name and the commit from git: not decoded again.
_DECODED_FIELDS = tuple(k for k in EVENT_FIELDS if k not in ("prompt", "env", "seq", "commit"))
_DECODED_INDEXES = tuple(EVENT_FIELDS.index(k) + 1 for k in _DECODED_FIELDS)


def parse_event_message(
    tag: str, commit: str, message: str, parsed_tag: tuple[str, str, str] | None = None, target_type: str = "commit"
) -> DeploymentEvent | None:
    """Read a deployment event from its tag name, target commit and message; None if not one.

    `parsed_tag` saves re-parsing the tag name when the caller already did. `target_type` is
    the type of the object the tag points at (peeled): a tag on a blob was shown as a normal
    version, failed every `get(env=)` and blocked every promote and rollback of the prompt.
    """
    parsed_tag = parsed_tag or parse_deploy_tag(tag)
    if parsed_tag is None:
        return None
    env, prompt, seq = parsed_tag
    values: dict[str, Any]
    match = _BODY_RE.search(message)
    if match is not None:  # the layout `format_event_message` writes: one regex match
        raw_values = [g or "null" for g in match.group(*_DECODED_INDEXES)]  # `override` is absent in older events
        try:  # every value is JSON: decode them all in one call (C), not field by field
            decoded = json.loads("[" + ",".join(raw_values) + "]")
        except ValueError:
            decoded = list(map(_scalar, raw_values))
        values = dict(zip(_DECODED_FIELDS, decoded, strict=True))
        if not commit:
            values["commit"] = _scalar(match.group(EVENT_FIELDS.index("commit") + 1))
    else:  # hand-written or reordered: line by line
        values = {}
        _, _, body = message.partition("\n\n")
        for line in body.splitlines():
            key, sep, raw = line.partition(": ")
            if not sep:
                if line.endswith(":"):
                    values[line[:-1]] = None
                continue
            values[key] = _scalar(raw)
    if commit:  # Git's answer (the tag's target): the message's `commit` is not read
        values.pop("commit", None)
    fields = checked_fields(values, EVENT_ACTIONS, prompt)
    problem, skipped = fields.problem, target_type != "commit"
    if skipped:
        not_commit = f"the tag points at a {target_type or 'missing object'}, not a commit: skipped, {env} runs what the event before it says"
        problem = "; ".join(p for p in (not_commit, problem) if p)
    elif seq_time(seq) is None:  # orders the events: one that sorts after all others would run for good
        skipped = True
        no_time = f"the tag's sequence carries no real time (not written by workbench): skipped, {env} runs what the event before it says"
        problem = "; ".join(p for p in (no_time, problem) if p)
    return DeploymentEvent(
        tag, prompt, env, seq, fields.action, fields.version, commit or fields.commit, fields.previous_version,
        fields.previous_commit, fields.reason, fields.who, fields.when, fields.tests,
        Canary(*fields.canary) if fields.canary and not skipped else None, fields.override, problem, skipped,
    )


def without_canary(event: DeploymentEvent, why: str) -> DeploymentEvent:
    """`event` with its split ignored (every key gets the stable version), and why, as a problem."""
    problem = f"{why} (the split is ignored: every key gets the stable version)"
    return replace(event, canary=None, problem="; ".join(p for p in (event.problem, problem) if p))


def _scalar(raw: str) -> Any:
    """One JSON value as written by `format_event_message`; a fast path for plain strings."""
    if raw[:1] == '"' and raw[-1:] == '"' and raw.count('"') == 2 and "\\" not in raw:
        return raw[1:-1]
    if raw == "null":
        return None
    if raw[:1] in ('"', "{", "[", "-") or raw in ("true", "false") or raw[:1].isdigit():
        try:
            return json.loads(raw)
        except ValueError:
            pass
    return raw


def utc_now_iso(now: datetime) -> str:
    return now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class HistoryEntry:
    """One commit that touched a prompt file, with what is attached to it."""

    commit: CommitInfo
    path: str  # the file's path at this commit (renames followed)
    change: str  # A (added), M (modified), D (deleted), R (renamed), C (copied)
    releases: tuple[ReleaseTag, ...] = ()
    deployments: tuple[DeploymentEvent, ...] = ()
    branches: tuple[str, ...] | None = None  # None: not computed (see Workspace.branches_containing)
    old_path: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "commit": self.commit.to_dict(),
            "path": self.path,
            "old_path": self.old_path,
            "change": self.change,
            "releases": [r.label for r in self.releases],
            "deployments": [e.to_dict() for e in self.deployments],
            "branches": list(self.branches) if self.branches is not None else None,
        }


@dataclass(frozen=True)
class BranchInfo:
    name: str
    commit: str
    is_current: bool
    subject: str = ""
    committer_time: int = 0
    upstream: str | None = None
    ahead: int = 0
    behind: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "commit": self.commit,
            "current": self.is_current,
            "subject": self.subject,
            "upstream": self.upstream,
            "ahead": self.ahead,
            "behind": self.behind,
        }


@dataclass(frozen=True)
class FileChange:
    """One entry of `git status`: a path and how it differs from HEAD."""

    path: str
    state: WorkingState
    orig_path: str | None = None


@dataclass(frozen=True)
class MergeResult:
    status: str  # up-to-date | fast-forward | merged | conflicts
    commit: str | None = None
    conflicts: tuple[str, ...] = ()
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "commit": self.commit,
            "conflicts": list(self.conflicts),
            "message": self.message,
        }


@dataclass(frozen=True)
class RefUpdate:
    ref: str
    flag: str  # git's porcelain flag: ' ' ok, '+' forced, '-' deleted, '*' new, '!' rejected, '=' up to date
    summary: str

    @property
    def rejected(self) -> bool:
        return self.flag == "!"


@dataclass(frozen=True)
class SyncResult:
    """The outcome of a push or fetch."""

    ok: bool
    updates: tuple[RefUpdate, ...] = ()
    message: str = ""
    notes_merged: bool = False
    details: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "message": self.message,
            "updates": [{"ref": u.ref, "flag": u.flag, "summary": u.summary} for u in self.updates],
            "details": self.details,
        }
