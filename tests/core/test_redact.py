"""The one redaction rule (workbench.core.redact) and where it must run first."""

from __future__ import annotations

import base64
from types import SimpleNamespace

import pytest

from workbench.core.redact import redact, redact_data, redact_url, url_secrets

KEY = "sk-live-Secret0123456789ABCDEFghij"


@pytest.mark.parametrize(
    ("text", "secrets", "expected"),
    [
        (f"bad key {KEY}!", [KEY], "bad key ***!"),
        ("token=abcdef123456 in body", ["abcdef123456"], "token=*** in body"),
        ("http://user:hunter2@host:8080/v1", [], "http://***@host:8080/v1"),
        ("see https://alice:p%40ss@example.com/x?q=1", [], "see https://***@example.com/x?q=1"),
        # A raw `@` in the password: URL parsers (urllib, curl) split at the last `@`, git at the
        # first; everything up to the last `@` of the authority goes.
        ("fatal: 'https://ana:p@ssw0rd-secret@git.example.com/r.git'", [], "fatal: 'https://***@git.example.com/r.git'"),
        ("https://a@b:c@d@host:1/x@y", [], "https://***@host:1/x@y"),
        ("https://host/path@x and ssh://git@host2", [], "https://host/path@x and ssh://***@host2"),
        ("https://h/v1?api-key=zzz123&x=1", [], "https://h/v1?api-key=***&x=1"),
        ("https://h/v1?key=zzz123", [], "https://h/v1?key=***"),
        ("Authorization: Bearer abc.def-ghi_jkl", [], "Authorization: Bearer ***"),
        ("'Authorization': 'Basic dXNlcjpodW50ZXIy'", [], "'Authorization': 'Basic ***'"),
        ("an openai key sk-abcdefghijklmnopqrstuvwx leaked", [], "an openai key sk-*** leaked"),
        ("nothing to hide here", ["xyz"], "nothing to hide here"),  # too short to be a secret
        ("", [KEY], ""),
    ],
)
def test_redact(text: str, secrets: list[str], expected: str) -> None:
    assert redact(text, secrets) == expected


def test_encoded_forms_of_a_secret_are_removed_too() -> None:
    secret = "p@ss word/with+signs"
    from urllib.parse import quote

    text = f"raw {secret} url {quote(secret, safe='')} b64 {base64.b64encode(secret.encode()).decode()}"
    assert secret not in redact(text, [secret]) and "p%40ss" not in redact(text, [secret])
    assert base64.b64encode(secret.encode()).decode() not in redact(text, [secret])


def test_a_longer_secret_is_removed_whole() -> None:
    assert redact("abcdefgh-ijkl", ["abcdefgh", "abcdefgh-ijkl"]) == "***"


def test_redact_data_and_urls() -> None:
    data = {"error": f"echo {KEY}", "list": [f"x {KEY}", 3], KEY: "as a key"}
    assert redact_data(data, [KEY]) == {"error": "echo ***", "list": ["x ***", 3], "***": "as a key"}
    assert redact_url("http://u:p4ssw0rd@h/v1") == "http://***@h/v1"
    assert redact_url(None) is None
    assert set(url_secrets("http://u:p4ssw0rd@h/v1?token=tok123456")) >= {"p4ssw0rd", "u:p4ssw0rd", "tok123456"}
    assert url_secrets("http://h/v1") == []


def test_provider_errors_are_scrubbed_before_they_are_cut_to_length(monkeypatch: pytest.MonkeyPatch) -> None:
    from workbench.evals import providers
    from workbench.evals.secrets import register

    register(KEY)
    # The key starts at character 190 of the body: cut first, a prefix of it would survive.
    err = SimpleNamespace(status_code=401, body=None, message="x" * 180 + " key was " + KEY + " more text", response=None)
    message = providers._status_error(err).message
    assert "Sec" not in message and "sk-live" not in message


def test_scrub_reads_the_environment_again_only_when_it_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A run scrubs every field of every case (~5 calls per case): checking each environment
    variable's name on every call cost ~0.6 ms a call, a second of CPU per 200-case run."""
    from workbench.evals import secrets

    checked: list[str] = []
    real = secrets._SECRET_NAME

    class Counting:
        def search(self, name: str) -> object:
            checked.append(name)
            return real.search(name)

    monkeypatch.setattr(secrets, "_SECRET_NAME", Counting())
    monkeypatch.setenv("BENCH_ONE_API_KEY", "first-secret-value-1")
    secrets.scrub("warm")
    checked.clear()
    for _ in range(50):
        assert secrets.scrub("x first-secret-value-1 y") == "x *** y"
    assert checked == []
    monkeypatch.setenv("BENCH_ONE_API_KEY", "second-secret-value-2")  # changed: read again
    assert secrets.scrub("x second-secret-value-2 first-secret-value-1 y") == "x *** first-secret-value-1 y"
    monkeypatch.delenv("BENCH_ONE_API_KEY")
    assert secrets.scrub("x second-secret-value-2 y") == "x second-secret-value-2 y"
