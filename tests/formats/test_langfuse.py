"""`workbench import langfuse`: a Langfuse export with several prompts, versions and labels
becomes commits (oldest first, dated and authored as in Langfuse, its commit messages), releases
and deployment events (labels mapped to environments, `latest` ignored) that `workbench log` and
`workbench status` show; the prompts render as Langfuse's SDK compiles them (`TemplateParser`,
langfuse 5.0.4); importing twice adds nothing; `export --format langfuse` writes the same shape."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from format_helpers import FIXTURES, cli, messages, new_repo

EXPORT = FIXTURES / "langfuse" / "langfuse-prompts.json"
OBJECTS: list[dict[str, Any]] = json.loads(EXPORT.read_text(encoding="utf-8"))["data"]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = new_repo(tmp_path / "repo")
    code, out, err = cli(root, "import", "langfuse", str(EXPORT), "--prefix", "lf", "--label-env", "production=prod,staging=staging", "--json")
    assert code == 0, out + err
    return root


def log(root: Path, name: str) -> list[dict[str, Any]]:
    code, out, err = cli(root, "log", name, "--json")
    assert code == 0, out + err
    return json.loads(out)


def test_versions_become_commits_oldest_first_with_dates_authors_messages(repo: Path) -> None:
    entries = list(reversed(log(repo, "lf/movie-critic")))
    assert [(e["commit"]["author_name"], e["commit"]["author_email"], e["commit"]["author_time"], e["commit"]["subject"]) for e in entries] == [
        ("Ana Lopez", "ana@example.com", "2025-01-10T09:00:00+00:00", "First critic prompt"),
        ("ben", "ben@example.com", "2025-01-12T10:30:00+00:00", "One sentence answers"),
        ("Chen Wei", "", "2025-01-15T08:00:00+00:00", "movie-critic: Langfuse version 3"),  # no commitMessage
    ]
    assert [e["releases"] for e in entries] == [["lf/movie-critic@v1"], ["lf/movie-critic@v2"], ["lf/movie-critic@v3"]]
    deployments = [(d["env"], d["version"]) for e in entries for d in e["deployments"]]
    assert deployments == [("staging", "lf/movie-critic@v2"), ("prod", "lf/movie-critic@v3")]
    reasons = [d["reason"] for e in entries for d in e["deployments"]]
    assert all(r.startswith("imported from Langfuse: label") for r in reasons)
    # The text log shows the same: every version, newest first.
    code, out, _ = cli(repo, "log", "lf/movie-critic")
    assert code == 0 and out.splitlines()[0].split()[3:5] == ["Chen", "Wei"]
    assert "One sentence answers" in out and "First critic prompt" in out and "▲ prod" in out


def test_status_shows_what_each_environment_ran_and_latest_is_ignored(repo: Path) -> None:
    code, out, err = cli(repo, "status", "--json")
    assert code == 0, out + err
    running = {(p["name"], env): cell["version"] for p in json.loads(out)["prompts"] for env, cell in p["environments"].items() if cell["deployed"]}
    assert running == {
        ("lf/movie-critic", "staging"): "lf/movie-critic@v2",
        ("lf/movie-critic", "prod"): "lf/movie-critic@v3",
        ("lf/support/reply", "prod"): "lf/support/reply@v1",  # v2 has only `latest`: no event
        ("lf/policy", "prod"): "lf/policy@v1",
    }


def test_reimport_adds_nothing(repo: Path) -> None:
    before = log(repo, "lf/movie-critic")
    code, out, err = cli(repo, "import", "langfuse", str(EXPORT), "--prefix", "lf", "--label-env", "production=prod,staging=staging", "--json")
    assert code == 0, out + err
    history = json.loads(out)["history"]
    assert history["commits"] == [] and history["events"] == [] and len(history["already_imported"]) == len(OBJECTS)
    assert log(repo, "lf/movie-critic") == before


def compile_like_langfuse(obj: dict[str, Any], variables: dict[str, str], resolved: dict[str, str]) -> list[dict[str, str]]:
    """Langfuse's SDK: the server resolves prompt references first, then `compile` substitutes."""
    from langfuse.model import TemplateParser

    def text(content: str) -> str:
        for reference, value in resolved.items():
            content = content.replace(reference, value)
        return TemplateParser.compile_template(content, variables)

    if obj["type"] == "text":
        return [{"role": "user", "content": text(obj["prompt"])}]
    return [{"role": m["role"], "content": text(m["content"])} for m in obj["prompt"] if m.get("type") != "placeholder"]


@pytest.mark.parametrize("name", ["movie-critic", "support/reply", "policy"])
def test_latest_versions_render_as_langfuse_compiles_them(name: str, repo: Path) -> None:
    latest = max((o for o in OBJECTS if o["name"] == name), key=lambda o: o["version"])
    variables = {"criticlevel": "expert", "movie": "Dune", "company": "ACME {{not a var}}", "question": "Where is my order?"}
    resolved = {"@@@langfusePrompt:name=policy|label=production@@@": "Never promise refunds."}
    wanted = {"movie-critic": ("criticlevel", "movie"), "support/reply": ("company", "question"), "policy": ()}[name]
    ours = messages(repo, f"lf/{name}", {k: v for k, v in variables.items() if k in wanted})
    assert ours == compile_like_langfuse(latest, variables, resolved)


def test_export_writes_langfuse_objects_with_labels(repo: Path, tmp_path: Path) -> None:
    code, out, err = cli(repo, "export", str(tmp_path / "out"), "--env", "prod", "--format", "langfuse", "--json")
    assert code == 0, out + err
    data = json.loads((tmp_path / "out" / "langfuse-prompts.json").read_text(encoding="utf-8"))["data"]
    critic = [o for o in data if o["name"] == "lf/movie-critic"]
    assert [(o["version"], o["labels"], o["commitMessage"], o["createdAt"]) for o in critic] == [
        (1, [], "First critic prompt", "2025-01-10T09:00:00Z"),
        (2, ["staging"], "One sentence answers", "2025-01-12T10:30:00Z"),
        (3, ["production", "latest"], "movie-critic: Langfuse version 3", "2025-01-15T08:00:00Z"),
    ]
    assert critic[-1]["prompt"] == next(o for o in OBJECTS if o["name"] == "movie-critic" and o["version"] == 3)["prompt"]
    assert critic[-1]["config"] == {"model": "gpt-4o", "temperature": 0.3, "max_tokens": 60}
    # ... and importing that export elsewhere gives the same history.
    other = new_repo(tmp_path / "other")
    code, out, err = cli(other, "import", "langfuse", str(tmp_path / "out" / "langfuse-prompts.json"), "--prefix", "", "--label-env", "production=prod,staging=staging", "--json")
    assert code == 0, out + err
    assert [e["commit"]["subject"] for e in log(other, "lf/movie-critic")] == [e["commit"]["subject"] for e in log(repo, "lf/movie-critic")]
    assert (other / "prompts/lf/movie-critic.yaml").read_text(encoding="utf-8") == (repo / "prompts/lf/movie-critic.yaml").read_text(encoding="utf-8")


def _two_prompts(tmp_path: Path, second_date: str) -> Path:
    export = tmp_path / "lf.json"
    row = {"type": "text", "config": {}, "labels": ["production"], "tags": [], "projectId": "p", "createdBy": "Ana"}
    export.write_text(json.dumps({"data": [
        {**row, "id": "1", "name": "a", "version": 1, "prompt": "hi {{x}}", "commitMessage": "first", "createdAt": "2025-01-10T09:00:00.000Z"},
        {**row, "id": "2", "name": "b", "version": 1, "prompt": "yo", "commitMessage": "second", "createdAt": second_date},
    ]}))
    return export


def _running(root: Path) -> dict[str, str]:
    code, out, err = cli(root, "status", "--json")
    assert code == 0, out + err
    return {p["name"]: p["environments"]["prod"]["version"] for p in json.loads(out)["prompts"] if p["environments"]["prod"]["deployed"]}


def test_a_date_git_cannot_record_is_committed_with_the_current_time(tmp_path: Path) -> None:
    """`createdAt: 9999-12-31` made git's commit fail half-way through the import."""
    root = new_repo(tmp_path / "repo")
    code, out, err = cli(root, "import", "langfuse", str(_two_prompts(tmp_path, "9999-12-31T23:59:59.999Z")), "--prefix", "lf")
    assert code == 0, out + err
    assert "9999-12-31" in out and "current time" in out
    assert _running(root) == {"lf/a": "lf/a@v1", "lf/b": "lf/b@v1"}


def test_a_commit_refused_half_way_leaves_nothing_behind_and_the_import_can_run_again(tmp_path: Path) -> None:
    """A pre-commit hook refusing the second prompt left its file staged (the next import then
    refused: "uncommitted changes in prompts/lf/b.yaml") and the first prompt's prod event unwritten."""
    root = new_repo(tmp_path / "repo")
    hook = root / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\nif git diff --cached --name-only | grep -q 'lf/b'; then echo 'no b today' >&2; exit 1; fi\n")
    hook.chmod(0o755)
    export = _two_prompts(tmp_path, "2025-01-11T09:00:00.000Z")
    code, out, err = cli(root, "import", "langfuse", str(export), "--prefix", "lf")
    assert code == 2 and "no b today" in err, out + err
    assert subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=root, capture_output=True, text=True, check=True).stdout == ""
    hook.unlink()
    code, out, err = cli(root, "import", "langfuse", str(export), "--prefix", "lf")
    assert code == 0, out + err
    assert _running(root) == {"lf/a": "lf/a@v1", "lf/b": "lf/b@v1"}


def _export(tmp_path: Path, objects: list[dict[str, Any]], file: str) -> Path:
    export = tmp_path / file
    export.write_text(json.dumps({"data": objects}), encoding="utf-8")
    return export


def _releases(root: Path) -> dict[str, str]:
    """{release tag: the subject of its commit}."""
    out = subprocess.run(["git", "tag", "-l", "*@v*", "--format=%(refname:short) %(*subject)"], cwd=root, capture_output=True, text=True, check=True).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


def test_an_import_killed_between_a_commit_and_its_release_is_finished_by_the_next(repo: Path, tmp_path: Path) -> None:
    """`kill -9` after version 2's commit, before its release tag: the next import took version 2
    as done and never released it, so version 3 became `@v2` and the label `production` on
    version 3 deployed "v2" (release numbers no longer followed Langfuse's versions)."""
    root = new_repo(tmp_path / "killed")
    first_two = [{**o, "labels": []} for o in OBJECTS if o["name"] == "movie-critic" and o["version"] <= 2]
    code, out, err = cli(root, "import", "langfuse", str(_export(tmp_path, first_two, "part.json")), "--prefix", "lf")
    assert code == 0, out + err
    subprocess.run(["git", "tag", "-d", "lf/movie-critic@v2"], cwd=root, check=True, capture_output=True)  # what the kill left
    code, out, err = cli(root, "import", "langfuse", str(EXPORT), "--prefix", "lf", "--label-env", "production=prod,staging=staging")
    assert code == 0, out + err
    assert _releases(root) == _releases(repo)
    assert _running(root) == _running(repo) == {"lf/movie-critic": "lf/movie-critic@v3", "lf/support/reply": "lf/support/reply@v1", "lf/policy": "lf/policy@v1"}


def test_an_import_killed_between_writing_a_version_and_its_commit_can_run_again(repo: Path, tmp_path: Path) -> None:
    """`kill -9` after version 2's file was written, before its commit: the next import refused
    ("uncommitted changes in prompts/lf/movie-critic.yaml: commit or discard them"), for the
    import's own file. A file holding exactly the version the import writes next is its own."""
    root = new_repo(tmp_path / "killed")
    first = [{**o, "labels": []} for o in OBJECTS if o["name"] == "movie-critic" and o["version"] == 1]
    code, out, err = cli(root, "import", "langfuse", str(_export(tmp_path, first, "part.json")), "--prefix", "lf")
    assert code == 0, out + err
    path = "prompts/lf/movie-critic.yaml"
    second = subprocess.run(["git", "show", f"lf/movie-critic@v2:{path}"], cwd=repo, capture_output=True, text=True, check=True).stdout
    (root / path).write_text(second, encoding="utf-8")  # what the kill left
    code, out, err = cli(root, "import", "langfuse", str(EXPORT), "--prefix", "lf", "--label-env", "production=prod,staging=staging")
    assert code == 0, out + err
    assert _releases(root) == _releases(repo) and _running(root) == _running(repo)
    assert subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, check=True).stdout == ""
    # Any other change is still the user's: refused, as before.
    (root / path).write_text(second + "# my own edit\n", encoding="utf-8")
    code, out, err = cli(root, "import", "langfuse", str(EXPORT), "--prefix", "lf")
    assert code == 2 and "uncommitted changes in prompts/lf/movie-critic.yaml" in err


def test_a_commit_that_carries_an_import_trailer_but_not_the_version_is_not_released_as_it(repo: Path, tmp_path: Path) -> None:
    """An imported commit amended by hand keeps its `Imported-From:` trailer with other content:
    the next import took it for that version and released it (a release named for Langfuse's
    version 2 that is not version 2). A trailer counts only with the version's content."""
    root = new_repo(tmp_path / "amended")
    first_two = [{**o, "labels": []} for o in OBJECTS if o["name"] == "movie-critic" and o["version"] <= 2]
    code, out, err = cli(root, "import", "langfuse", str(_export(tmp_path, first_two, "part.json")), "--prefix", "lf")
    assert code == 0, out + err
    path = root / "prompts/lf/movie-critic.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "# amended by hand\n", encoding="utf-8")
    subprocess.run(["git", "commit", "-q", "-a", "--amend", "--no-edit"], cwd=root, check=True)
    amended = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    code, out, err = cli(root, "import", "langfuse", str(EXPORT), "--prefix", "lf", "--label-env", "production=prod,staging=staging")
    assert code == 0, out + err
    tagged = subprocess.run(["git", "tag", "--points-at", amended], cwd=root, capture_output=True, text=True, check=True).stdout.split()
    assert [t for t in tagged if "@v" in t] == [], tagged
    assert _running(root) == _running(repo)


def test_a_version_imported_again_brings_the_later_ones_after_it(tmp_path: Path) -> None:
    """When version 1 is imported again (its trailer's commit no longer holds it), version 2's
    old commit was still taken as done: the branch ended on version 1's text, version 2 the
    newest in Langfuse. The versions after one imported again are imported again too."""
    root = new_repo(tmp_path / "rewritten")
    first_two = [{**o, "labels": []} for o in OBJECTS if o["name"] == "movie-critic" and o["version"] <= 2]
    export = _export(tmp_path, first_two, "part.json")
    code, out, err = cli(root, "import", "langfuse", str(export), "--prefix", "lf")
    assert code == 0, out + err
    path = root / "prompts/lf/movie-critic.yaml"
    second = path.read_text(encoding="utf-8")
    trailer = next(line for line in subprocess.run(["git", "log", "-1", "--format=%B", "HEAD~1"], cwd=root, capture_output=True, text=True, check=True).stdout.splitlines() if line.startswith("Imported-From:"))
    path.write_text(second + "# edited by hand\n", encoding="utf-8")
    subprocess.run(["git", "commit", "-q", "-a", "-m", f"hand edit\n\n{trailer}"], cwd=root, check=True)  # version 1's trailer, not its text
    code, out, err = cli(root, "import", "langfuse", str(export), "--prefix", "lf")
    assert code == 0, out + err
    assert path.read_text(encoding="utf-8") == second
