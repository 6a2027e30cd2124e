"""Canary split arm choice: a stable hash so one key always lands on the same arm.

The same key, percentage and salt give the same answer on every process and every machine
(no randomness, no process-seeded `hash()`), so a user keeps seeing one version during a split.
"""

from __future__ import annotations

import hashlib


def bucket(key: str, salt: str) -> float:
    """A stable number in [0, 100) from sha256(salt + key)."""
    digest = hashlib.sha256((salt + key).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 * 100.0


def choose_arm(key: str, percent: float, salt: str) -> bool:
    """True when `key` belongs to the canary arm of a split sending `percent`% to the canary."""
    if percent <= 0:
        return False
    if percent >= 100:
        return True
    return bucket(key, salt) < percent
