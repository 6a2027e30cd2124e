"""Canary split arm choice: a stable hash so one key always lands on the same arm.

The same key, percentage and salt give the same answer on every process and every machine
(no randomness, no process-seeded `hash()`), so a user keeps seeing one version during a split.
"""

from __future__ import annotations

import decimal
import hashlib
import sys


def key_bytes(key: object) -> bytes:
    """The one way a split key becomes bytes: its text (`str(key)`), UTF-8 with lone surrogates
    kept as they are. An int user id (`key=42`) raised TypeError and a surrogate-escaped name
    UnicodeEncodeError, which the runtime's last-good fallback turned into the arm the previous
    request got; a plain string's bytes are what they always were, so no user changes arm.
    An int is read without `str` (see `_int_text`)."""
    if isinstance(key, int) and type(key).__str__ is int.__str__ and type(key).__repr__ is int.__repr__:
        return _int_text(key).encode("ascii")  # not bool, nor an IntEnum: they print otherwise
    return str(key).encode("utf-8", "surrogatepass")


_DECIMAL_DIGITS = sys.int_info.default_max_str_digits
"""Ints up to this many digits (4,300) are their decimal text, as `str` wrote them before."""
_DECIMAL_BOUND = 10**_DECIMAL_DIGITS


def _int_text(key: int) -> str:
    """An int key's text, exact and the same in every process.

    `str` refuses an int over the process's `sys.get_int_max_str_digits()` (4,300 by default, 640
    with PYTHONINTMAXSTRDIGITS=640): `get(key=10**4300)` raised ValueError. Up to 4,300 digits the
    text stays the decimal one `str` gave (`Decimal` writes it under any process limit), so no key
    changes arm; a larger int is its hexadecimal text, linear to write (decimal is quadratic, the
    reason for the limit).
    """
    if -_DECIMAL_BOUND < key < _DECIMAL_BOUND:
        return str(decimal.Decimal(key))
    return hex(key)


def bucket(key: object, salt: str) -> float:
    """A stable number in [0, 100) from sha256(salt + key)."""
    digest = hashlib.sha256(key_bytes(salt) + key_bytes(key)).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100.0


def choose_arm(key: object, percent: float, salt: str) -> bool:
    """True when `key` belongs to the canary arm of a split sending `percent`% to the canary."""
    if percent <= 0:
        return False
    if percent >= 100:
        return True
    return bucket(key, salt) < percent
