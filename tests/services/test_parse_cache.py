"""The verdict cache across sessions: a version checked once is not parsed again, and no entry,
however it got there, makes an invalid prompt look valid."""

from __future__ import annotations

import hmac
import json
from pathlib import Path

import pytest

from workbench.core import loader
from workbench.services import parse_cache, verdicts
from workbench.services.session import RepoSession

RAG = "rag/answer_with_citations"
RAG_TESTS = "prompts/rag/answer_with_citations.tests.yaml"


def _check(root: Path, name: str, rev: str | None = None) -> parse_cache.Verdict:
    with RepoSession.open(root) as session:  # a fresh session each time: nothing kept in memory
        return parse_cache.check_at(session, name, rev)


def _entries(root: Path) -> list[Path]:
    return sorted((root / ".git" / "workbench" / "parsed").rglob("*.json"))


def _no_loader(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the prompt was parsed again")

    monkeypatch.setattr(loader, "load_prompt", refuse)


def test_a_version_checked_once_is_answered_without_parsing(prompt_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = _check(prompt_repo, "support/summarize", "HEAD")
    assert first.ok and not first.cached
    assert len(_entries(prompt_repo)) == 1
    _no_loader(monkeypatch)
    again = _check(prompt_repo, "support/summarize", "HEAD")
    assert again.cached and again.ok and again.problems == first.problems
    working = _check(prompt_repo, "support/summarize")  # the same text in the working copy: the same entry
    assert working.cached and working.ok


def test_problems_are_remembered_too(prompt_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = prompt_repo / "prompts" / "support" / "summarize.yaml"
    path.write_text(path.read_text().replace("messages:", "mesages:", 1))
    first = _check(prompt_repo, "support/summarize")
    assert not first.ok and first.errors
    _no_loader(monkeypatch)
    again = _check(prompt_repo, "support/summarize")
    assert again.cached and not again.ok and again.problems == first.problems


def test_a_changed_file_is_checked_again(prompt_repo: Path) -> None:
    assert _check(prompt_repo, "support/summarize").ok
    path = prompt_repo / "prompts" / "support" / "summarize.yaml"
    path.write_text(path.read_text().replace("messages:", "mesages:", 1))
    changed = _check(prompt_repo, "support/summarize")
    assert not changed.cached and not changed.ok
    assert len(_entries(prompt_repo)) == 2


def test_a_changed_tests_file_is_checked_again(prompt_repo: Path) -> None:
    assert _check(prompt_repo, RAG).ok
    (prompt_repo / RAG_TESTS).write_text("not: a list\n")  # the prompt file itself is unchanged
    changed = _check(prompt_repo, RAG)
    assert not changed.cached and not changed.ok
    assert any("list of test cases" in p.message for p in changed.errors)


def test_other_checking_code_is_another_key(prompt_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert not _check(prompt_repo, "support/summarize").cached
    monkeypatch.setattr(verdicts, "fingerprint", lambda: "another loader")
    assert not _check(prompt_repo, "support/summarize").cached


def test_a_corrupt_entry_is_ignored_and_rewritten(prompt_repo: Path) -> None:
    _check(prompt_repo, "support/summarize")
    (entry,) = _entries(prompt_repo)
    for garbage in (b"\x00\xff{not json", b"[]", b'{"body": 1, "mac": 2}', b"{" * 100_000):
        entry.write_bytes(garbage)
        verdict = _check(prompt_repo, "support/summarize")
        assert verdict.ok and not verdict.cached
        assert _check(prompt_repo, "support/summarize").cached  # rewritten by the fresh check


def test_a_planted_entry_never_makes_an_invalid_prompt_valid(prompt_repo: Path) -> None:
    path = prompt_repo / "prompts" / "support" / "summarize.yaml"
    good = _check(prompt_repo, "support/summarize")
    (good_entry,) = _entries(prompt_repo)
    path.write_text(path.read_text().replace("messages:", "mesages:", 1))
    bad = _check(prompt_repo, "support/summarize")
    assert not bad.ok
    (bad_entry,) = [e for e in _entries(prompt_repo) if e != good_entry]
    # 1. the valid version's (signed) entry copied over the invalid one's: another key inside
    bad_entry.write_bytes(good_entry.read_bytes())
    assert not _check(prompt_repo, "support/summarize").ok
    # 2. the invalid one's entry edited to say "valid, no problems", with the old signature
    _check(prompt_repo, "support/summarize")  # rewrites it
    envelope = json.loads(bad_entry.read_text())
    body = json.loads(envelope["body"])
    body.update(ok=True, problems=[])
    envelope["body"] = json.dumps(body)
    bad_entry.write_text(json.dumps(envelope))
    assert not _check(prompt_repo, "support/summarize").ok
    # 3. signed with a key of the attacker's choosing (the user's key lives outside the repository)
    envelope["mac"] = hmac.new(b"k" * 32, envelope["body"].encode(), "sha256").hexdigest()
    bad_entry.write_text(json.dumps(envelope))
    assert not _check(prompt_repo, "support/summarize").ok
    assert good.ok


def test_without_a_place_for_the_key_nothing_is_cached(prompt_repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the cache folder would be")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    assert _check(prompt_repo, "support/summarize").ok
    assert not _check(prompt_repo, "support/summarize").cached
    assert _entries(prompt_repo) == []


def _load_for_a_run(root: Path, name: str, rev: str | None = None):  # type: ignore[no-untyped-def]
    with RepoSession.open(root) as session:
        return parse_cache.load_checked_at(session, name, rev)


def _no_schema_check(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the JSON Schema check ran again")

    monkeypatch.setattr(loader, "schema_problems", refuse)


def test_a_test_run_skips_the_schema_check_of_a_version_that_passed_it(prompt_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rerun the result cache answers spent ~0.1 s importing jsonschema and checking files
    that a signed verdict already says pass it: the schema gives errors only, so the loaded
    prompt is the same."""
    first = _load_for_a_run(prompt_repo, RAG)  # its cases live in a tests file: checked too
    assert first.ok and first.prompt is not None and len(_entries(prompt_repo)) == 1
    with monkeypatch.context() as patched:
        _no_schema_check(patched)
        again = _load_for_a_run(prompt_repo, RAG)
    assert again.ok and again.prompt == first.prompt and again.problems == first.problems
    # A changed tests file (a dependency of the verdict): checked in full, and found wrong.
    tests_file = prompt_repo / RAG_TESTS
    tests_file.write_text(tests_file.read_text().replace("assert:", "asert:", 1))
    changed = _load_for_a_run(prompt_repo, RAG)
    assert not changed.ok and any("asert" in p.message for p in changed.errors)


def test_a_test_run_of_an_invalid_version_reports_its_problems(prompt_repo: Path) -> None:
    path = prompt_repo / "prompts" / "support" / "summarize.yaml"
    path.write_text(path.read_text().replace("messages:", "mesages:", 1))
    for _ in range(2):  # checked, then answered from the verdict
        result = _load_for_a_run(prompt_repo, "support/summarize")
        assert result.prompt is None and any("mesages" in p.message for p in result.errors)
    assert "does not exist" in _load_for_a_run(prompt_repo, "no/such").problems[0].message


# --------------------------------------------------------------------------- workbench.yaml
CONFIG = "environments: [dev, prod]\nmodel: {provider: echo}\n"


def _open_counting_schema_checks(root: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    from workbench.core import config

    calls: list[str] = []
    original = config.schema_problems

    def counting(*args: object, **kwargs: object) -> object:
        calls.append("schema")
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(config, "schema_problems", counting)
    with RepoSession.open(root) as session:
        assert session.environments == ("dev", "prod")
    return len(calls)


def test_a_configuration_that_passed_the_schema_is_not_checked_against_it_again(prompt_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (prompt_repo / "workbench.yaml").write_text(CONFIG)
    assert _open_counting_schema_checks(prompt_repo, monkeypatch) == 1
    assert _open_counting_schema_checks(prompt_repo, monkeypatch) == 0  # every later session
    (prompt_repo / "workbench.yaml").write_text(CONFIG + "concurrency: 4\n")
    assert _open_counting_schema_checks(prompt_repo, monkeypatch) == 1  # another text: checked


def test_no_entry_makes_an_invalid_configuration_look_valid(prompt_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.errors import ConfigError

    config = prompt_repo / "workbench.yaml"
    config.write_text(CONFIG + "concurency: 4\n")  # a misspelt field: the schema's error
    for _ in range(2):  # never remembered as passed
        with pytest.raises(ConfigError, match="concurency"):
            RepoSession.open(prompt_repo)
    config.write_text(CONFIG)
    RepoSession.open(prompt_repo).close()
    (entry,) = [e for e in _entries(prompt_repo) if json.loads(json.loads(e.read_text())["body"])["path"] == "workbench.yaml"]
    # The passed verdict copied to the invalid text's place, or re-signed by someone else:
    config.write_text(CONFIG + "concurency: 4\n")
    key = verdicts.key_of("workbench.yaml", config.read_text(), kind="config")
    planted = verdicts.entry_file(prompt_repo / ".git", key)
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_text(entry.read_text())  # signed, but for another key
    with pytest.raises(ConfigError, match="concurency"):
        RepoSession.open(prompt_repo)
    body = json.loads(json.loads(entry.read_text())["body"])
    body["key"] = key
    planted.write_text(json.dumps({"body": json.dumps(body), "mac": "0" * 64}))  # right key, not signed by this user
    with pytest.raises(ConfigError, match="concurency"):
        RepoSession.open(prompt_repo)


def test_the_fingerprint_changes_with_any_checking_source_or_schema(tmp_path: Path) -> None:
    import os
    import shutil

    package = Path(verdicts.__file__).resolve().parent.parent
    copy = tmp_path / "workbench"
    shutil.copytree(package / "core", copy / "core")
    shutil.copytree(package / "schema", copy / "schema")
    first = verdicts.fingerprint_of(copy)
    assert verdicts.fingerprint_of(copy) == first
    source = copy / "core" / "loader.py"
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # edited: same size, later
    second = verdicts.fingerprint_of(copy)
    assert second != first
    schema = next((copy / "schema").glob("*.json"))
    schema.write_text(schema.read_text() + " ")
    assert verdicts.fingerprint_of(copy) != second


def test_the_cache_keeps_the_most_recently_used_verdicts_of_a_full_bucket(prompt_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every checked version is an entry: without a bound, years of edits and CI runs fill the
    disk. Each of the 256 buckets keeps its `BUCKET_ENTRIES` most recently used."""
    import os

    monkeypatch.setattr(verdicts, "BUCKET_ENTRIES", 2)
    monkeypatch.setattr(verdicts, "entry_file", lambda git_dir, key: git_dir / "workbench" / "parsed" / "00" / f"{key[2:]}.json")
    path = prompt_repo / "prompts" / "support" / "summarize.yaml"
    original = path.read_text()

    def check(version: int) -> bool:
        path.write_text(original + f"# version {version}\n")
        return _check(prompt_repo, "support/summarize").cached

    for version in (0, 1):
        before = set(_entries(prompt_repo))
        assert not check(version)
        (written,) = set(_entries(prompt_repo)) - before
        os.utime(written, ns=(0, (version + 1) * 10**9))  # distinct ages, whatever the clock's grain
    assert check(0)  # used again: now the most recent
    assert not check(2)  # a third version in a full bucket: the least recently used (1) goes
    assert len(_entries(prompt_repo)) == 2
    assert check(0) and check(2)
    assert not check(1)


def test_a_planted_link_never_sends_the_cache_s_writes_or_pruning_outside_the_repository(prompt_repo: Path, tmp_path: Path) -> None:
    """Every bucket a link to a folder of the user's: opening a session wrote its verdict there
    and pruned that folder down to 64 files."""
    victim = tmp_path / "victim"
    victim.mkdir()
    for n in range(100):
        (victim / f"{n:062x}.json").write_text("{}")
    parsed = prompt_repo / ".git" / "workbench" / "parsed"
    parsed.mkdir(parents=True)
    for bucket in range(256):
        (parsed / f"{bucket:02x}").symlink_to(victim)
    (prompt_repo / "workbench.yaml").write_text(CONFIG)
    RepoSession.open(prompt_repo).close()
    assert _check(prompt_repo, "support/summarize").ok
    assert len(list(victim.iterdir())) == 100
    # The whole cache folder a link: the same.
    for bucket in parsed.iterdir():
        bucket.unlink()
    parsed.rmdir()
    parsed.symlink_to(victim)
    (prompt_repo / "workbench.yaml").write_text(CONFIG + "concurrency: 2\n")
    RepoSession.open(prompt_repo).close()
    assert len(list(victim.iterdir())) == 100


def test_only_entries_are_pruned(prompt_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verdicts, "BUCKET_ENTRIES", 1)
    monkeypatch.setattr(verdicts, "entry_file", lambda git_dir, key: git_dir / "workbench" / "parsed" / "00" / f"{key[2:]}.json")
    bucket = prompt_repo / ".git" / "workbench" / "parsed" / "00"
    bucket.mkdir(parents=True)
    (bucket / "notes.json").write_text("mine")
    path = prompt_repo / "prompts" / "support" / "summarize.yaml"
    for version in range(3):
        path.write_text(path.read_text() + f"# {version}\n")
        _check(prompt_repo, "support/summarize")
    assert (bucket / "notes.json").read_text() == "mine" and len(_entries(prompt_repo)) == 2


def test_no_home_directory_opens_sessions_with_no_cache(prompt_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A container's user with no passwd entry and no HOME: Path.home() raises."""

    def no_home() -> Path:
        raise RuntimeError("Could not determine home directory.")

    (prompt_repo / "workbench.yaml").write_text(CONFIG)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(Path, "home", staticmethod(no_home))
    with RepoSession.open(prompt_repo) as session:
        assert session.environments == ("dev", "prod")
    assert _check(prompt_repo, "support/summarize").ok and not _entries(prompt_repo)


def test_the_fingerprint_survives_odd_installs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    # Not installed as files (a zip): no sources to stat, so workbench's version decides.
    versions = iter(["1.0", "1.0", "1.0", "1.0", "2.0", "2.0", "2.0", "2.0"])
    monkeypatch.setattr(verdicts, "installed_version", lambda *_names: next(versions))
    first = verdicts.fingerprint_of(tmp_path / "app.pyz" / "workbench")
    assert verdicts.fingerprint_of(tmp_path / "app.pyz" / "workbench") != first
    monkeypatch.undo()

    def no_spec(name: str) -> None:
        raise ValueError(f"{name}.__spec__ is None")

    monkeypatch.setattr(importlib.util, "find_spec", no_spec)
    from workbench.core.installed import installed_version

    assert installed_version("Jinja2", "jinja2") not in ("", "?")  # importlib.metadata answers instead


def test_a_verdict_just_written_outlives_entries_dated_in_the_future(prompt_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bucket full of entries an hour ahead (clock skew, `cp -a`): the new verdict was pruned
    as soon as written, and the cache held nothing."""
    import os
    import time

    monkeypatch.setattr(verdicts, "BUCKET_ENTRIES", 2)
    monkeypatch.setattr(verdicts, "entry_file", lambda git_dir, key: git_dir / "workbench" / "parsed" / "00" / f"{key[2:]}.json")
    bucket = prompt_repo / ".git" / "workbench" / "parsed" / "00"
    bucket.mkdir(parents=True)
    ahead = int((time.time() + 3600) * 1e9)
    for n in range(2):
        (bucket / f"{n:062x}.json").write_text("{}")
        os.utime(bucket / f"{n:062x}.json", ns=(ahead, ahead))
    assert not _check(prompt_repo, "support/summarize").cached
    assert _check(prompt_repo, "support/summarize").cached
    assert len(_entries(prompt_repo)) == 2


def test_a_relative_cache_home_is_ignored(prompt_repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """XDG_CACHE_HOME=.cache put the signing key inside the working copy (the XDG spec says to
    ignore a relative value)."""
    monkeypatch.chdir(prompt_repo)
    monkeypatch.setenv("XDG_CACHE_HOME", ".cache")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert _check(prompt_repo, "support/summarize").ok
    assert not (prompt_repo / ".cache").exists()
    assert (tmp_path / "home" / ".cache" / "workbench" / "parse-cache.key").is_file()


def test_a_fifo_in_place_of_an_entry_is_no_entry(prompt_repo: Path) -> None:
    """Opening a FIFO for reading waits for a writer: opening the repository hung for ever."""
    import os
    import threading

    _check(prompt_repo, "support/summarize", "HEAD")
    (planted,) = _entries(prompt_repo)
    planted.unlink()
    os.mkfifo(planted)
    opened: list[bool] = []

    def open_and_check() -> None:
        with RepoSession.open(prompt_repo, read_only=True) as session:
            opened.append(parse_cache.check_at(session, "support/summarize", "HEAD").ok)

    worker = threading.Thread(target=open_and_check, daemon=True)
    worker.start()
    worker.join(20)
    assert opened == [True]


def test_an_entry_kept_before_the_assertion_files_is_checked_once_more_for_them(prompt_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A verdict keeps the files the suite's assertions name (History and the diff ask for them).
    An entry written before they were kept still says whether the version loads; asked for the
    files, the version is checked once more and its entry written again with them."""
    sql = prompt_repo / "prompts" / "analytics" / "sql_generator.yaml"
    sql.write_text(sql.read_text().replace("value: count", "value: file://checks/count.txt", 1))
    assert _check(prompt_repo, "analytics/sql_generator").files == ("checks/count.txt",)
    (entry,) = _entries(prompt_repo)
    envelope = json.loads(entry.read_text())
    body = json.loads(envelope["body"])
    assert body.pop("files") == ["checks/count.txt"]
    envelope["body"] = json.dumps(body)
    signer = verdicts.user_signer()
    assert signer is not None
    envelope["mac"] = signer(envelope["body"].encode())
    entry.write_text(json.dumps(envelope))  # as an older version wrote it
    parsed: list[str] = []
    real = loader.load_prompt
    monkeypatch.setattr(loader, "load_prompt", lambda text, path, **kwargs: parsed.append(path) or real(text, path, **kwargs))
    older = _check(prompt_repo, "analytics/sql_generator")
    assert older.cached and older.ok and older.files is None and parsed == []
    for _ in range(2):
        with RepoSession.open(prompt_repo) as session:
            assert parse_cache.assertion_files_of(session, "prompts/analytics/sql_generator.yaml", None) == ["checks/count.txt"]
    assert parsed == ["prompts/analytics/sql_generator.yaml"]
    assert _check(prompt_repo, "analytics/sql_generator").files == ("checks/count.txt",)
