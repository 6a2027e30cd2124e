"""The split's arm choice takes any key the application has (an int user id, a str with a lone
surrogate from a decoded file name): the same key always gets the same arm, and the arm of
every string key stays what it was (a user must not flip arms across an upgrade)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

from workbench.core.split import bucket, choose_arm, key_bytes


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


def test_an_int_key_of_any_size_is_exact_text_and_never_fails() -> None:
    """`str(key)` refuses ints over 4,300 digits (ValueError), and `PromptRepo.get(key=)` failed,
    hidden by its last-good fallback. Up to 4,300 digits an int is still its decimal text (no key
    changes arm); a larger one is its hexadecimal text, exact, in any process."""
    largest_decimal = 10**4300 - 1  # 4,300 digits
    assert key_bytes(largest_decimal) == ("9" * 4300).encode()
    assert key_bytes(-largest_decimal) == ("-" + "9" * 4300).encode()
    huge = 10**4300
    assert key_bytes(huge) == hex(huge).encode() and key_bytes(-huge) == hex(-huge).encode()
    assert len({bucket(huge + i, "salt") for i in range(50)}) == 50  # every key its own
    assert choose_arm(huge, 50, "salt") == choose_arm(huge, 50, "salt")


def test_an_int_keys_text_does_not_depend_on_the_process_limit() -> None:
    """A process may lower the int-to-text limit (PYTHONINTMAXSTRDIGITS=640): the same key must get
    the same arm there as here."""
    key = 10**1000 + 7
    code = "from workbench.core.split import bucket; print(repr(bucket(10**1000 + 7, 'salt')))"
    env = {**os.environ, "PYTHONINTMAXSTRDIGITS": "640", "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    there = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    assert there.returncode == 0, there.stderr
    assert float(there.stdout) == bucket(key, "salt") == bucket(str(key), "salt")
