"""Loading the OpenAI SDK: late (a cached run never does), early when a run will surely send
(in a thread), and without the parts this product never uses."""

from __future__ import annotations

import contextlib
import importlib
import sys
import threading
from types import ModuleType

_sdk_import_lock = threading.Lock()
_SDK_AIOHTTP_TRANSPORT = "openai._vendor.httpx_aiohttp"


def openai_sdk() -> ModuleType:
    """The OpenAI SDK, imported without its optional aiohttp transport.

    The SDK imports its vendored aiohttp transport whenever aiohttp is installed (textual-serve,
    behind `workbench serve`, installs it), and aiohttp builds its TLS contexts at import: 0.25
    of the SDK's 1.0 s on this machine, for a transport never used here (the SDK's default is
    httpx). Marking the SDK's private transport module absent for the length of the import
    takes the SDK's own `except ImportError` path; aiohttp itself is never touched, so another
    thread importing it meanwhile is not affected.
    """
    loaded = sys.modules.get("openai")
    if loaded is not None and not getattr(getattr(loaded, "__spec__", None), "_initializing", False):
        return loaded
    with _sdk_import_lock:
        # With aiohttp already imported its cost is paid: the SDK keeps its aiohttp client.
        hidden = _SDK_AIOHTTP_TRANSPORT not in sys.modules and "aiohttp" not in sys.modules
        if hidden:
            sys.modules[_SDK_AIOHTTP_TRANSPORT] = None  # type: ignore[assignment]  # the import system's "not installed"
        try:
            return importlib.import_module("openai")
        finally:
            if hidden and sys.modules.get(_SDK_AIOHTTP_TRANSPORT, ...) is None:
                del sys.modules[_SDK_AIOHTTP_TRANSPORT]


def prefetch_http_client() -> None:
    """Import the OpenAI SDK in a daemon thread, for a run that will surely send requests.

    Called before the prompt files are read, so that part of the import (0.3-0.5 s of CPU)
    overlaps with reading them and with Git's processes; a run answered from the cache never
    imports it at all (the client is built by `OpenAIProvider.warm` or on the first call).
    """
    if "openai" in sys.modules:
        return

    def load() -> None:
        # Any failure (not installed, interpreter shutting down) is left to the first call.
        with contextlib.suppress(Exception):
            openai_sdk()

    threading.Thread(target=load, name="workbench-sdk-import", daemon=True).start()
