"""The split's arm choice takes any key the application has (an int user id, a str with a lone
surrogate from a decoded file name): the same key always gets the same arm, and the arm of
every string key stays what it was (a user must not flip arms across an upgrade)."""

from __future__ import annotations

import hashlib

from workbench.core.split import bucket, choose_arm


def _bucket_before(key: str, salt: str) -> float:
    """The rule as first shipped, for str keys: sha256(salt + key) in UTF-8."""
    return int.from_bytes(hashlib.sha256((salt + key).encode("utf-8")).digest()[:8], "big") / 2**64 * 100.0


def test_string_keys_keep_their_arm() -> None:
    for key in ("user-1", "ünïcode", "", "42", "𝔘 long " * 20):
        assert bucket(key, "deploy/prod/p/1") == _bucket_before(key, "deploy/prod/p/1")


def test_any_key_is_its_text_and_never_fails() -> None:
    assert bucket(42, "salt") == bucket("42", "salt")  # an int id is its decimal text
    assert choose_arm(12345, 30, "salt") == choose_arm("12345", 30, "salt")
    lone = "user-\ud800"
    assert choose_arm(lone, 50, "salt") == choose_arm(lone, 50, "salt")
    assert bucket(lone, "salt") != bucket("user-\udc00", "salt")  # two surrogates are two keys
