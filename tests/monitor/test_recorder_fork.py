"""A recorder used before a fork (gunicorn `--preload`, a recorder configured at import) records
in every forked worker: the child does not wait on a lock the parent's writer held at the fork,
and writes its own events with its own thread."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from workbench.monitor.recorder import Recorder

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")

PROMPT = SimpleNamespace(name="p", version="p@v1", commit="abc", env="prod", arm=None)


def test_a_recorder_used_before_a_fork_records_in_the_child(tmp_path: Path) -> None:
    path = tmp_path / "e.jsonl"
    recorder = Recorder(path, otel=False)
    recorder.record(PROMPT, latency_ms=1.0, call_id="parent-0")
    recorder.flush()
    held, release = threading.Event(), threading.Event()

    def hold_the_writers_lock() -> None:  # as the writer thread does after each batch
        with recorder._flushed:
            held.set()
            release.wait(10)

    holder = threading.Thread(target=hold_the_writers_lock)
    holder.start()
    assert held.wait(5)
    pid = os.fork()
    if pid == 0:  # the child: never back into pytest
        status = 1
        try:
            recorder.record(PROMPT, latency_ms=1.0, call_id="child-0")
            recorder.flush()
            status = 0 if recorder.stats()["written"] == 1 else 3
        finally:
            os._exit(status)
    release.set()
    holder.join()
    deadline = time.monotonic() + 15
    while (ended := os.waitpid(pid, os.WNOHANG))[0] == 0:
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            pytest.fail("the child waited for ever on a lock held at the fork")
        time.sleep(0.02)
    assert os.waitstatus_to_exitcode(ended[1]) == 0
    assert sorted(json.loads(line)["call_id"] for line in path.read_text().splitlines()) == ["child-0", "parent-0"]
