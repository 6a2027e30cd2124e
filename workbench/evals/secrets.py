"""The secret values this process knows, and `scrub()`: `core.redact.redact` with all of them.

Providers register what they read (the API key named by `api_key_env`, the password of a
`base_url`); the values of environment variables whose names look like keys
(`*_API_KEY`, `*TOKEN*`, `*SECRET*`, `*PASSWORD*`, ...) are added, so that a report merged
in another process, or a key the run never used, is still kept out of what is written.
"""

from __future__ import annotations

import os
import re
import threading
from typing import Any

from workbench.core.redact import MIN_SECRET_LENGTH, redact, redact_data, url_secrets

_SECRET_NAME = re.compile(r"(?i)(api[-_]?key|token|secret|password|passwd|credential|private[-_]?key|(^|_)key$|(^|_)auth$)")
_MIN_ENV_SECRET = 8  # env values shorter than this ("1", "true") are settings, not secrets

_lock = threading.Lock()
_registered: set[str] = set()
# (the environment as last read, its secrets): a run scrubs every field of every case, and
# reading and checking each variable on every call cost ~0.6 ms a call.
_environment_seen: tuple[tuple[Any, ...], frozenset[str]] = ((), frozenset())


def register(*values: str | None) -> None:
    """Remember secret values (None and very short ones are ignored)."""
    with _lock:
        _registered.update(v for v in values if isinstance(v, str) and len(v) >= MIN_SECRET_LENGTH)


def register_url(url: str | None) -> None:
    """Remember the secret parts of a URL (password, token-like user name, key parameters)."""
    register(*url_secrets(url))


def environment_secrets(environ: Any = None) -> set[str]:
    """Values of environment variables whose names say they hold a secret."""
    env = os.environ if environ is None else environ
    return {value for name, value in env.items() if _SECRET_NAME.search(name) and isinstance(value, str) and len(value) >= _MIN_ENV_SECRET}


def _environment_snapshot() -> tuple[Any, ...]:
    # CPython keeps the encoded variables in a plain dict: a tuple of its items is built and
    # compared in C, without decoding each name and value as `os.environ.items()` does.
    data = getattr(os.environ, "_data", None)
    return tuple(data.items()) if isinstance(data, dict) else tuple(os.environ.items())


def _current_environment_secrets() -> frozenset[str]:
    global _environment_seen
    snapshot = _environment_snapshot()
    seen, found = _environment_seen
    if snapshot != seen:
        found = frozenset(environment_secrets())
        _environment_seen = (snapshot, found)
    return found


def known_secrets() -> frozenset[str]:
    with _lock:
        registered = set(_registered)
    return frozenset(registered | _current_environment_secrets())


def scrub(text: str) -> str:
    """`text` without any secret this process knows, URL credentials or bearer tokens."""
    return redact(text, known_secrets()) if text else text


def scrub_data(value: Any) -> Any:
    """`scrub` applied to every string inside nested dicts and lists."""
    return redact_data(value, known_secrets())


__all__ = ["environment_secrets", "known_secrets", "register", "register_url", "scrub", "scrub_data"]
