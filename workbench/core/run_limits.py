"""The ranges a test run's settings accept, in one place: the run's checks (`EvalSettings`),
workbench.yaml's `concurrency` and the CLI's help all read them. The help once wrote "1 to 256"
and "1 to 1000" again, and would have stayed so when a limit changed. No imports: the CLI
builds its help from these at startup."""

MAX_CONCURRENCY = 256
"""Requests in flight at most: workbench.yaml's `concurrency` maximum, and `-j`'s (one range)."""

MAX_REPEAT = 1000
"""Samples of each case at most (`--repeat K`)."""

__all__ = ["MAX_CONCURRENCY", "MAX_REPEAT"]
