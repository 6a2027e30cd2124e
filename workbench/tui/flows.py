"""Flows: commit, branches, release tag, promote, rollback, push/fetch, review, environments."""

from __future__ import annotations


class FlowsMixin:
    """Placeholder until the flows land."""
