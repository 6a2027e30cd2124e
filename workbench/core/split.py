"""Canary split arm choice: a stable hash so one key always lands on the same arm.

The same key, percentage and salt give the same answer on every process and every machine
(no randomness, no process-seeded `hash()`), so a user keeps seeing one version during a split.
"""

from __future__ import annotations

import hashlib


def key_bytes(key: object) -> bytes:
    """The one way a split key becomes bytes: its text (`str(key)`), UTF-8 with lone surrogates
    kept as they are. An int user id (`key=42`) raised TypeError and a surrogate-escaped name
    UnicodeEncodeError, which the runtime's last-good fallback turned into the arm the previous
    request got; a plain string's bytes are what they always were, so no user changes arm."""
    return str(key).encode("utf-8", "surrogatepass")


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
