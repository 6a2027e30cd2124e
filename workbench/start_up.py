"""The process while it starts: the cyclic garbage collector, and dataclasses' compiled methods.

Importing Typer, Rich, Textual and our modules, and building the app's screen, creates a few
hundred thousand objects that live until the process ends. The collector ran ~215 times
before the app's first paint, 60-110 ms here, and found almost nothing to free. So the console
script pauses it (`pause`) and start-up's end resumes it (`resume`): the CLI once its modules
are imported, the app once its first screen is drawn (or after a few seconds at most).
Resuming freezes what start-up built (`gc.freeze`), so that later collections skip it too.

The same two moments read and keep the methods `@dataclass` compiles (`dataclass_code`).
"""

from __future__ import annotations

import gc

from workbench import dataclass_code


def pause() -> None:
    """Before the imports: no collections, and dataclasses' methods compiled in an earlier
    process (`workbench/dataclass_code.py`)."""
    gc.disable()
    dataclass_code.install()


def resume() -> None:
    """Collect again (idempotent), skipping from now on what start-up built."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
    dataclass_code.save()
