"""Approvals: append-only annotated tags `approve/<env>/<prompt>/<seq>` beside the deployment events.

`approve` writes one; `approvals` reads them with Git's record of who made each (the tagger,
the committer identity of whoever ran `workbench approve`). An approval counts for one version
(commit) of one prompt in one environment; `services.policies` decides whether it counts for a
given promotion (never the promoter's own). Approvals travel with `push` and `fetch`
(`refs/tags/*`).
"""

from __future__ import annotations

import hashlib
import os

from workbench.core.approvals import Approval, format_approval_message, parse_approval_message
from workbench.core.event_seq import make_seq, seq_time
from workbench.core.versions import (
    APPROVE_PREFIX,
    approve_tag_name,
    approve_tag_prefix,
    utc_now_iso,
)
from workbench.errors import PromptError, WorkbenchError
from workbench.services.prompt_files import prompt_at
from workbench.services.releases import existing_release
from workbench.services.revisions import resolve
from workbench.services.session import RepoSession
from workbench.services.write_lock import exclusive


def approval_target(session: RepoSession, name: str, rev: str | None) -> tuple[str, str | None]:
    """(commit, release label or None) that approving `rev` of `name` approves.

    Content that a release already names is that release's commit, as for a deployment, so
    an approval of `HEAD` counts when the same content is promoted as `name@v3`.
    """
    commit = resolve(session, rev or "HEAD", name)
    found = existing_release(session, name, commit)
    if found is not None:
        return found.commit, found.label
    if not prompt_at(session, name, commit).ok:
        raise PromptError(f"{name} is not valid at {commit[:10]}: nothing to approve", hint="approve a version that loads")
    return commit, None


def approve(session: RepoSession, name: str, env: str, rev: str | None = None, reason: str = "") -> Approval:
    """Approve `rev` (default HEAD) of `name` for `env`: a new annotated tag, never moved.

    Raises:
        WorkbenchError: no reason, unknown environment. RepoError: no Git identity.
    """
    if not reason.strip():
        raise WorkbenchError("an approval needs a reason", hint='pass -m "why" (it is recorded in the approval)')
    session.require_env(env)
    commit, version = approval_target(session, name, rev)
    who_name, who_email = session.store.identity()
    who = f"{who_name} <{who_email}>"
    now = session.clock()
    suffix = hashlib.sha256(f"{who}\0{commit}\0{env}\0{name}\0".encode() + os.urandom(16)).hexdigest()
    with exclusive(session, "approve", env, name):  # the latest approval read and the new one written as one step
        existing = session.store.ref_names("refs/tags/" + approve_tag_prefix(env, name))
        # After the latest approval that carries a real time: a hand-made `99999999999999999-…` crashed every approve.
        latest = max((seq for seq in (ref.rsplit("/", 1)[1] for ref in existing) if seq_time(seq) is not None), default=None)
        seq = make_seq(now, suffix, after=latest)
        approval = Approval(
            tag=approve_tag_name(env, name, seq),
            prompt=name,
            env=env,
            seq=seq,
            commit=commit,
            version=version,
            who=who,
            when=utc_now_iso(now),
            reason=reason.strip(),
        )
        session.store.create_annotated_tag(approval.tag, commit, format_approval_message(approval))
    return approval


def approvals(session: RepoSession, env: str | None = None, name: str | None = None) -> list[Approval]:
    """Approvals (one environment, one prompt, or all), oldest first; who made each is Git's tagger."""
    pattern = "refs/tags/" + (approve_tag_prefix(env, name) if env is not None else APPROVE_PREFIX)
    found = []
    for record in session.store.tag_records(pattern):
        approval = parse_approval_message(record.tag, record.commit, record.message, record.tagger)
        # One whose sequence carries no real time was tagged "before" no event: it counts for none.
        if approval is not None and seq_time(approval.seq) is not None and (name is None or approval.prompt == name) and (env is None or approval.env == env):
            found.append(approval)
    return sorted(found, key=lambda a: (a.prompt, a.env, a.seq))


def approvals_for(session: RepoSession, name: str, env: str, commit: str) -> list[Approval]:
    """Approvals of exactly this version of `name` for `env`."""
    return [a for a in approvals(session, env, name) if a.commit == commit]
