"""Partials (`{% include "shared/policy.jinja" %}`) are versioned with the prompts that use them:
read at the prompt's revision (a release pins them), in its history, diff and review, marking
users modified, validated at their own path:line:col, listed."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from vcs_helpers import commit_all, run_git, write

from workbench.cli.common import run_app
from workbench.core.versions import WorkingState
from workbench.runtime import PromptRepo
from workbench.services import deployments, diffing, history, prompt_files, releases
from workbench.services.session import RepoSession

POLICY_V1 = "Never promise refunds.\n"
POLICY_V2 = "Never promise refunds or dates.\n"

REPLY = """\
description: Draft a reply
model: {provider: echo}
inputs:
  ticket: {type: string, required: true}
messages:
  - role: system
    content: |
      You draft replies.
      {% include "shared/policy.jinja" %}
  - role: user
    content: "{{ ticket }}"
tests:
  - description: polite
    vars: {ticket: where is my order}
    assert:
      - type: icontains
        value: refunds
"""


@pytest.fixture
def prepo(tmp_path: Path) -> Path:
    """main: the partial alone (1), the prompt that includes it (2), a change to the partial (3)."""
    root = tmp_path / "repo"
    root.mkdir()
    run_git(root, "init", "-q", "-b", "main")
    write(root, ".gitignore", ".workbench/\n")
    write(root, "prompts/shared/policy.jinja", "An early policy.\n")
    commit_all(root, "Add a shared policy")
    write(root, "prompts/shared/policy.jinja", POLICY_V1)
    write(root, "prompts/support/reply.yaml", REPLY)
    write(root, "prompts/other.yaml", "messages:\n  - {role: user, content: hi}\n")
    commit_all(root, "Add the reply drafter")
    return root


@pytest.fixture
def pws(prepo: Path) -> Iterator[RepoSession]:
    session = RepoSession.open(prepo)
    yield session
    session.close()


def test_history_includes_commits_that_changed_a_partial_but_not_older_ones(prepo: Path, pws: RepoSession) -> None:
    write(prepo, "prompts/shared/policy.jinja", POLICY_V2)
    commit_all(prepo, "Policy: no dates either")
    subjects = [entry.commit.subject for entry in history.history(pws, "support/reply")]
    assert subjects == ["Policy: no dates either", "Add the reply drafter"]
    assert [e.commit.subject for e in history.history(pws, "other")] == ["Add the reply drafter"]


def test_diff_shows_the_partial_change_as_its_own_section(prepo: Path, pws: RepoSession) -> None:
    write(prepo, "prompts/shared/policy.jinja", POLICY_V2)
    working = diffing.diff(pws, "support/reply")  # HEAD vs the working copy: only the partial changed
    assert working.changed
    changed = {s.title: s for s in working.changed_sections}
    assert list(changed) == ["partial shared/policy.jinja"]
    assert changed["partial shared/policy.jinja"].diff.added == 1
    assert "partial shared/policy.jinja is used by this prompt only" in working.notes
    assert "+++ b/prompts/shared/policy.jinja" in working.unified and "+Never promise refunds or dates." in working.unified
    commit_all(prepo, "Policy: no dates either")
    committed = diffing.diff(pws, "support/reply", "HEAD~1", "HEAD")
    assert [s.title for s in committed.changed_sections] == ["partial shared/policy.jinja"]
    assert diffing.diff(pws, "other", "HEAD~1", "HEAD").changed is False
    assert "shared/policy.jinja" in run_cli_json(prepo, "diff", "support/reply", "HEAD~1", "HEAD")["partials"][0]


def run_cli_json(root: Path, *args: str) -> dict:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        run_app(["-C", str(root), *args, "--json"])
    return json.loads(out.getvalue())


def test_review_lists_every_prompt_whose_partial_the_branch_changed(prepo: Path, pws: RepoSession) -> None:
    run_git(prepo, "switch", "-q", "-c", "policy")
    write(prepo, "prompts/shared/policy.jinja", POLICY_V2)
    commit_all(prepo, "Policy: no dates either")
    review = diffing.review(pws, "policy")
    assert [item.name for item in review.items] == ["support/reply"]
    item = review.items[0]
    assert [s.title for s in item.diff.changed_sections] == ["partial shared/policy.jinja"]
    assert [c.subject for c in item.commits] == ["Policy: no dates either"]


def test_changing_a_partial_marks_its_users_modified_and_a_missing_one_invalid(prepo: Path, pws: RepoSession) -> None:
    assert prompt_files.working_states(pws)["support/reply"] is WorkingState.CLEAN
    write(prepo, "prompts/shared/policy.jinja", POLICY_V2)
    states = prompt_files.working_states(pws)
    assert states["support/reply"] is WorkingState.MODIFIED and states["other"] is WorkingState.CLEAN
    (prepo / "prompts/shared/policy.jinja").unlink()
    assert prompt_files.working_states(pws)["support/reply"] is WorkingState.INVALID
    assert prompt_files.partial_users(pws, "HEAD") == {"prompts/shared/policy.jinja": ["support/reply"]}


def test_a_release_pins_its_partials(prepo: Path, pws: RepoSession) -> None:
    deployments.promote(pws, "support/reply", "prod", reason="launch")  # releases v1
    write(prepo, "prompts/shared/policy.jinja", POLICY_V2)
    commit_all(prepo, "Policy: no dates either")
    # Only the partial changed, yet HEAD is new content: the next release is v2, not v1 again.
    assert releases.ensure_release(pws, "support/reply", run_git(prepo, "rev-parse", "HEAD").strip()).tag.number == 2
    write(prepo, "prompts/shared/policy.jinja", "the working copy is never read\n")
    with PromptRepo(prepo) as prompts:
        prod = prompts.get("support/reply", env="prod")
        assert prod.version == "support/reply@v1"
        assert prod.render(ticket="x")[0]["content"] == "You draft replies.\n" + POLICY_V1
        assert prompts.get("support/reply", rev="HEAD").render(ticket="x")[0]["content"] == "You draft replies.\n" + POLICY_V2
    # The export of an environment carries the partial at the deployed commit.
    from workbench.services.export import export

    export(pws, "prod", prepo.parent / "out")
    assert (prepo.parent / "out/prompts/shared/policy.jinja").read_text() == POLICY_V1


def test_validate_reports_problems_at_the_partials_own_position(prepo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(prepo, "prompts/shared/policy.jinja", "Line one.\nSign as {{ agent_name }}.\n")
    write(prepo, "prompts/support/reply.yaml", REPLY.replace('{% include "shared/policy.jinja" %}', '{% include "shared/policy.jinja" %}\n      {% include "shared/missing.jinja" %}'))
    assert run_app(["-C", str(prepo), "validate"]) == 1
    out = capsys.readouterr().out
    assert "prompts/shared/policy.jinja:2:12: error: uses 'agent_name', which is not declared in the inputs of prompts/support/reply.yaml" in out
    assert "prompts/support/reply.yaml:10:1: error: message 1 (system): partial shared/missing.jinja not found" in out
    # Naming the partial checks the prompts that include it.
    assert run_app(["-C", str(prepo), "validate", str(prepo / "prompts/shared/policy.jinja")]) == 1
    assert "policy.jinja:2:12" in capsys.readouterr().out


def test_a_partial_may_use_names_given_by_with_or_a_loop_where_every_include_gives_them(prepo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`{% with who=ticket %}{% include %}` gives the partial `who` (Dotprompt's `{{> p who=x}}`
    comes in that way): it was reported as an input the prompt does not declare."""
    write(prepo, "prompts/shared/sign.jinja", "by {{ who }}{% for tag in tags %} #{{ tag }}{% endfor %}\n")
    given = '{% with who=ticket, tags=["a"] %}{% include "shared/sign.jinja" %}{% endwith %}'
    looped = '{% for who in [ticket] %}{% with tags=[] %}{% include "shared/sign.jinja" %}{% endwith %}{% endfor %}'
    write(prepo, "prompts/support/reply.yaml", REPLY.replace('{% include "shared/policy.jinja" %}', given + "\n      " + looped))
    assert run_app(["-C", str(prepo), "validate"]) == 0, capsys.readouterr().out
    assert run_app(["-C", str(prepo), "render", "support/reply", "--var", "ticket=Ann"]) == 0
    assert "by Ann #a" in capsys.readouterr().out
    # Included once more without `who`: there it would be undefined, so it is reported.
    write(prepo, "prompts/support/reply.yaml", REPLY.replace('{% include "shared/policy.jinja" %}', given + '\n      {% include "shared/sign.jinja" %}'))
    assert run_app(["-C", str(prepo), "validate"]) == 1
    out = capsys.readouterr().out
    assert "uses 'who', which is not declared" in out and "uses 'tags', which is not declared" in out


def test_validate_refuses_partials_outside_prompts_and_computed_includes(prepo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(prepo, "secret.jinja", "top secret\n")
    write(prepo, "prompts/support/reply.yaml", REPLY.replace('"shared/policy.jinja"', '"../secret.jinja"'))
    write(prepo, "prompts/dyn.yaml", "inputs: {p: {type: string}}\nmessages:\n  - {role: user, content: '{% include p %}'}\n")
    assert run_app(["-C", str(prepo), "validate"]) == 1
    out = capsys.readouterr().out
    assert "partial '../secret.jinja': the reference points outside prompts/" in out
    assert "include needs a fixed partial path in quotes" in out


def test_list_json_shows_which_prompts_use_a_partial(prepo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_app(["-C", str(prepo), "list", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["support/reply"]["partials"] == ["shared/policy.jinja"] and rows["other"]["partials"] == []
    assert run_app(["-C", str(prepo), "list"]) == 0
    assert "partial shared/policy.jinja: used by support/reply" in capsys.readouterr().out


def test_render_of_a_partial_is_sandboxed_and_bounded(prepo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(prepo, "prompts/shared/policy.jinja", "{{ ''.__class__.__mro__ }}\n")
    assert run_app(["-C", str(prepo), "render", "support/reply", "--var", "ticket=x"]) == 2
    assert "sandbox" in capsys.readouterr().err


def test_a_stored_result_does_not_follow_a_prompt_whose_partial_changed(prepo: Path, pws: RepoSession) -> None:
    from workbench.evals.runner import CaseResult
    from workbench.services.evals import record_results
    from workbench.services.test_results import history_marks

    first = run_git(prepo, "rev-parse", "HEAD").strip()
    record_results(pws, "support/reply", first, "echo", [CaseResult("polite", "polite", 0, True, 1.0)], started=1.0)
    write(prepo, "prompts/other.yaml", "messages:\n  - {role: user, content: hello}\n")
    same = commit_all(prepo, "Unrelated change")
    write(prepo, "prompts/shared/policy.jinja", POLICY_V2)
    changed = commit_all(prepo, "Policy: no dates either")
    marks = history_marks(pws, "support/reply", [first, same, changed])
    # same prompt file, same partial: same content, shown as a run not recorded on that commit
    assert {c: m.label for c, m in marks.items()} == {first: "✓ 1/1", same: "✓ 1/1 local"}


def _counting_closures(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """A list that grows by one each time `partial_users` reads a prompt's partials."""
    calls: list[object] = []
    real = prompt_files.partial_closure

    def counted(text: str | None, read: Callable[[str], str | None]) -> dict[str, str | None]:
        calls.append(text)
        return real(text, read)

    monkeypatch.setattr(prompt_files, "partial_closure", counted)
    return calls


def test_partial_users_at_a_commit_are_read_once_a_session(prepo: Path, pws: RepoSession, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every diff asked which prompts use its partials, and that read every prompt's partials
    at the commit again (~7 ms on each History move in the app). A commit never changes."""
    calls = _counting_closures(monkeypatch)
    head = run_git(prepo, "rev-parse", "HEAD").strip()
    assert prompt_files.partial_users(pws, head) == {"prompts/shared/policy.jinja": ["support/reply"]}
    assert len(calls) == 2  # each prompt's partials
    for _ in range(3):
        assert "partial shared/policy.jinja is used by this prompt only" in diffing.diff(pws, "support/reply", "HEAD~1", head).notes
        read = len(calls)  # (the diff reads its own versions' partials)
        assert prompt_files.partial_users(pws, "HEAD") == {"prompts/shared/policy.jinja": ["support/reply"]}
        assert len(calls) == read
    write(prepo, "prompts/other.yaml", REPLY)
    commit_all(prepo, "Other uses the policy too")  # HEAD moved: another commit, read once
    assert prompt_files.partial_users(pws, "HEAD") == {"prompts/shared/policy.jinja": ["other", "support/reply"]}
    assert prompt_files.partial_users(pws, head) == {"prompts/shared/policy.jinja": ["support/reply"]}


def _settle(root: Path) -> None:
    """Every file and folder under prompts/ last modified an hour ago: no longer too recent for
    its modification time to tell a later change apart."""
    old = os.stat(root).st_mtime - 3600
    for folder, _dirs, files in os.walk(root / "prompts"):
        for path in [folder, *(os.path.join(folder, f) for f in files)]:
            os.utime(path, (old, old))


def test_partial_users_of_the_working_copy_are_read_again_when_its_files_change(
    prepo: Path, pws: RepoSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _counting_closures(monkeypatch)
    _settle(prepo)
    assert prompt_files.partial_users(pws, None) == {"prompts/shared/policy.jinja": ["support/reply"]}
    read = len(calls)
    assert prompt_files.partial_users(pws, None) == {"prompts/shared/policy.jinja": ["support/reply"]}
    assert len(calls) == read  # nothing changed: nothing read again
    (prepo / "prompts/other.yaml").write_text(REPLY)  # an edit in place
    assert prompt_files.partial_users(pws, None) == {"prompts/shared/policy.jinja": ["other", "support/reply"]}
    _settle(prepo)
    write(prepo, "prompts/new/extra.yaml", REPLY)  # a new prompt in a new folder
    assert prompt_files.partial_users(pws, None) == {"prompts/shared/policy.jinja": ["new/extra", "other", "support/reply"]}
    _settle(prepo)
    write(prepo, "prompts/shared/inner.jinja", "Be brief.\n")  # a new partial nobody uses yet
    assert prompt_files.partial_users(pws, None)["prompts/shared/inner.jinja"] == []
    _settle(prepo)
    write(prepo, "prompts/shared/policy.jinja", POLICY_V1 + '{% include "shared/inner.jinja" %}\n')  # used through the policy
    assert prompt_files.partial_users(pws, None)["prompts/shared/inner.jinja"] == ["new/extra", "other", "support/reply"]
    _settle(prepo)
    (prepo / "prompts/other.yaml").unlink()
    (prepo / "prompts/shared/inner.jinja").rename(prepo / "prompts/shared/renamed.jinja")
    assert prompt_files.partial_users(pws, None) == {
        "prompts/shared/inner.jinja": ["new/extra", "support/reply"],  # missing, still included
        "prompts/shared/policy.jinja": ["new/extra", "support/reply"],
        "prompts/shared/renamed.jinja": [],
    }
    _settle(prepo)
    read = len(calls)
    prompt_files.partial_users(pws, None)
    assert len(calls) == read + 2  # read again once after the change (`_settle` is one): two prompts
    prompt_files.partial_users(pws, None)
    assert len(calls) == read + 2
    (prepo / "prompts/shared/renamed.jinja").rename(prepo / "prompts/shared/inner.jinja")  # the missing one is back
    users = prompt_files.partial_users(pws, None)
    assert users["prompts/shared/inner.jinja"] == ["new/extra", "support/reply"] and "prompts/shared/renamed.jinja" not in users
