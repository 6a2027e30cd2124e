"""The one redaction rule: secrets out of any text before it is written or printed.

A server may echo the request's `Authorization` header in an error body; a `--base-url`
may carry `user:password@`; a model's answer may repeat what it was sent. Whatever reaches
a results store, a report, a git note, a log or a terminal passes through `redact()` first.

What is removed:

| what | becomes |
| --- | --- |
| each secret value given (the API key read from `api_key_env`, a URL's password), also URL-encoded or inside Basic auth | `***` |
| URL credentials: `scheme://user:password@host`, up to the authority's last `@` | `scheme://***@host` |
| secret query parameters: `?api_key=`, `key=`, `token=`, `access_token=`, `secret=`, `password=`, `sig=`, `signature=` | `...=***` |
| `Bearer <token>` and `Basic <credentials>` (an echoed `Authorization` header) | `Bearer ***` / `Basic ***` |
| OpenAI-style keys (`sk-` followed by 16 or more key characters) | `sk-***` |

`redact` is pure: the caller says which values are secret (`workbench.evals.secrets` keeps
the ones this process has read and adds those of environment variables named like keys).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any
from urllib.parse import quote, unquote, urlsplit

REDACTED = "***"
MIN_SECRET_LENGTH = 4  # shorter values would blank out ordinary text; no real key is that short

# Up to the authority's last `@` (greedy, never past its `/ ? #`): a raw `@` in a password is
# split at the last one by URL parsers (urllib, curl) and at the first by git.
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^\s/?#'\"<>]+@")
_SECRET_QUERY = re.compile(r"(?i)([?&;](?:api[-_]?key|key|token|access[-_]?token|auth|secret|client[-_]?secret|password|passwd|pwd|sig|signature)=)[^&;#\s'\"<>]+")
_AUTH_SCHEME = re.compile(r"(?i)\b(bearer|basic|token)(\s+)[A-Za-z0-9+/_.~=-]{6,}")
_OPENAI_KEY = re.compile(r"\bsk-[A-Za-z0-9_-]{16,}")


def _forms(secret: str) -> set[str]:
    """The secret as it may appear in text: as is, URL-encoded, and base64 (Basic auth)."""
    forms = {secret, quote(secret, safe=""), quote(secret)}
    forms.add(base64.b64encode(secret.encode()).decode().rstrip("="))
    return {f for f in forms if len(f) >= MIN_SECRET_LENGTH}


@lru_cache(maxsize=64)
def _pattern(secrets: frozenset[str]) -> re.Pattern[str] | None:
    forms: set[str] = set()
    for secret in secrets:
        if secret and len(secret) >= MIN_SECRET_LENGTH:
            forms |= _forms(secret)
    if not forms:
        return None
    # Longest first, so a secret that contains another is removed whole.
    return re.compile("|".join(re.escape(f) for f in sorted(forms, key=len, reverse=True)))


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with every secret value, URL credential and bearer token replaced by `***`.

    Args:
        text: any text about to be written or printed.
        secrets: values known to be secret (shorter than 4 characters are ignored).
    """
    return _redact(text, _secrets_pattern(secrets)) if text else text


def redact_data(value: Any, secrets: Iterable[str] = ()) -> Any:
    """`redact` applied to every string inside nested dicts, lists and tuples (keys too)."""
    return _redact_nested(value, _secrets_pattern(secrets))


def _secrets_pattern(secrets: Iterable[str]) -> re.Pattern[str] | None:
    return _pattern(frozenset(s for s in secrets if isinstance(s, str)))


def _redact(text: str, pattern: re.Pattern[str] | None) -> str:
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    if "://" in text:
        text = _URL_CREDENTIALS.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)
    if "=" in text:
        text = _SECRET_QUERY.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    text = _AUTH_SCHEME.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    return _OPENAI_KEY.sub(f"sk-{REDACTED}", text) if "sk-" in text else text


def _redact_nested(value: Any, pattern: re.Pattern[str] | None) -> Any:
    # The secrets' pattern is looked up once for the whole value, not once for each string in it.
    if isinstance(value, str):
        return _redact(value, pattern) if value else value
    if isinstance(value, dict):
        return {_redact_nested(k, pattern): _redact_nested(v, pattern) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_redact_nested(v, pattern) for v in value)
    return value


def redact_url(url: str | None) -> str | None:
    """A URL fit to show and store: credentials and secret query parameters replaced."""
    return None if url is None else redact(url)


def url_secrets(url: str | None) -> list[str]:
    """The secret parts of a URL (its password, its user name when it has a password, secret
    query values), to be added to the secrets `redact` removes everywhere."""
    if not url:
        return []
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found = []
    if parts.password:
        found += [parts.password, unquote(parts.password)]
        if parts.username:
            found.append(f"{parts.username}:{parts.password}")
            found.append(f"{unquote(parts.username)}:{unquote(parts.password)}")
    elif parts.username:
        found += [parts.username, unquote(parts.username)]  # a token passed as the user name
    for match in _SECRET_QUERY.finditer(url):
        value = url[match.end(1) : match.end()]
        found += [value, unquote(value)]
    return [f for f in found if len(f) >= MIN_SECRET_LENGTH]


__all__ = ["REDACTED", "redact", "redact_data", "redact_url", "url_secrets"]
