"""Helpers for the web tests: `workbench serve` as a real process on a free port of this machine."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Served:
    url: str  # with the token
    base: str  # without it
    root: Path
    process: subprocess.Popen[str]


def start_server(root: Path, *extra: str) -> Served:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TERM")}  # colours for the screenshot
    # Into a file, not a pipe: a pipe nobody drains would block the server once its logs fill it.
    log = root.parent / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "workbench", "serve", str(root), "--port", "0", *extra],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            start_new_session=True,  # its own process group: the app processes it starts end with it
        )
    for _ in range(600):  # the server prints its URL once it listens (up to a minute)
        found = re.search(r"Open: (http://\S+)", log.read_text())
        if found:
            url = found.group(1)
            return Served(url, url.split("/?", 1)[0], root, process)
        if process.poll() is not None:
            break
        time.sleep(0.1)
    stop_server(Served("", "", root, process))
    raise AssertionError(f"workbench serve printed no URL:\n{log.read_text()}")


def stop_server(served: Served) -> None:
    try:
        os.killpg(served.process.pid, signal.SIGTERM)
        served.process.wait(timeout=15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(served.process.pid, signal.SIGKILL)
        served.process.wait(timeout=5)
