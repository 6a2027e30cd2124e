"""Loading the OpenAI SDK: late (a cached run never does), early when a run will surely send
(in a thread), and without the parts this product never uses."""

from __future__ import annotations

import ast
import contextlib
import importlib
import importlib.util
import ssl
import sys
import threading
from concurrent.futures import Future
from pathlib import Path
from types import ModuleType
from typing import Any

_sdk_import_lock = threading.Lock()
_SDK_AIOHTTP_TRANSPORT = "openai._vendor.httpx_aiohttp"
# The SDK's packages loaded on demand. Its type catalogues, whose `__init__` imports every model
# of the API (~470 modules of pydantic classes, 0.4-0.5 s of the SDK's 0.7 s import here): a
# request needs a handful of them, which are imported as submodules; the rest load when first
# asked for. `openai.types.shared` (16 modules, 10-30 ms) is asked for by its errors module
# alone. And `openai.lib`, whose `__init__` imports the structured-output parsing (~40 modules,
# 15-50 ms) for names the SDK's own `__init__` never asks it for.
_SDK_ON_DEMAND = ("openai.types", "openai.types.chat", "openai.types.responses", "openai.types.shared", "openai.lib")


class _CatalogueOnDemand(ModuleType):
    """A package whose `__init__` runs when something needs all of it, and whose names load one
    by one until then.

    Its submodules import as usual meanwhile (`__path__` is set), so `from
    openai.types.chat.chat_completion import ChatCompletion` costs that module only. A name its
    `__init__` re-exports (`from openai.types.chat import ChatCompletionFunctionToolParam`,
    `openai.types.Batch`) imports the one module that defines it: the SDK's own `lib/_tools.py`
    asks for one name of `openai.types.chat`, which loaded its 51 modules (~35 ms here). `dir()`,
    `__all__`, `import *` and any name the `__init__` does not simply re-export run the whole
    `__init__`, as a normal import would. The stdlib's `importlib.util.LazyLoader` cannot do
    this: the import system reads a package's `__path__` to import a submodule, which would
    load it all.
    """

    def __getattr__(self, name: str) -> Any:
        state = self.__dict__
        with state["_workbench_lock"]:
            if name in state:  # loaded by another thread while this one waited
                return state[name]
            if state["_workbench_loaded"] is None:  # None: not yet; False: running (same thread)
                found = _re_export(self, name)
                if found is not _MISSING:
                    state[name] = found
                    return found
                state["_workbench_loaded"] = False
                try:
                    self.__spec__.loader.exec_module(self)  # type: ignore[union-attr]
                except BaseException:
                    state["_workbench_loaded"] = None
                    raise
                state["_workbench_loaded"] = True
                if name in state:
                    return state[name]
        raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")

    def __dir__(self) -> list[str]:
        with contextlib.suppress(AttributeError):
            self.__getattr__("__all__")
        return list(self.__dict__)


_MISSING = object()


def _re_export(package: ModuleType, name: str) -> Any:
    """What `package.__init__` would bind to `name`, importing only the module it comes from;
    `_MISSING` when the `__init__` is not plain re-exports or does not name it."""
    state = package.__dict__
    if "_workbench_exports" not in state:
        state["_workbench_exports"] = _exports(package)
    source = state["_workbench_exports"].get(name)
    if source is None and state["_workbench_exports"] and not name.startswith("__"):
        # `from openai.types.chat import completion_create_params`: a submodule, as the import
        # system would import it after this attribute is found missing.
        submodule = f"{package.__name__}.{name}"
        with contextlib.suppress(ImportError, ValueError):
            if importlib.util.find_spec(submodule) is not None:
                source = (submodule, None)
    if source is None:
        return _MISSING
    module_name, attribute = source
    try:
        module = importlib.import_module(module_name)
        return module if attribute is None else getattr(module, attribute)
    except (ImportError, AttributeError):
        return _MISSING  # the whole `__init__` then says what is wrong


def _exports(package: ModuleType) -> dict[str, tuple[str, str | None]]:
    """name -> (module, attribute; None: the module itself) for a package `__init__` made of
    relative `from ... import ...` lines only (the SDK's generated catalogues); {} otherwise."""
    origin = getattr(package.__spec__, "origin", None)
    try:
        tree = ast.parse(Path(str(origin)).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return {}
    exports: dict[str, tuple[str, str | None]] = {}
    for statement in tree.body:
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue  # the docstring
        if not isinstance(statement, ast.ImportFrom):
            return {}
        if statement.module == "__future__":
            continue
        if statement.level == 0:
            return {}
        module = importlib.util.resolve_name("." * statement.level + (statement.module or ""), package.__name__)
        for alias in statement.names:
            if alias.name == "*":
                return {}
            bound = alias.asname or alias.name
            exports[bound] = (f"{module}.{alias.name}", None) if statement.module is None else (module, alias.name)
    return exports


def _defer_packages(sdk_dir: Path) -> None:
    for name in _SDK_ON_DEMAND:
        if name in sys.modules:
            continue
        folder = sdk_dir.joinpath(*name.split(".")[1:])
        spec = importlib.util.spec_from_file_location(name, folder / "__init__.py", submodule_search_locations=[str(folder)])
        if spec is None or spec.loader is None or not (folder / "__init__.py").is_file():
            return  # another layout of the SDK: import it whole
        package = importlib.util.module_from_spec(spec)
        package.__class__ = _CatalogueOnDemand
        package.__dict__.update(_workbench_lock=threading.RLock(), _workbench_loaded=None)
        sys.modules[name] = package
        parent, _, child = name.rpartition(".")
        if parent in sys.modules:  # as the import system does for a submodule it loads
            setattr(sys.modules[parent], child, package)


def _bind_to_parents() -> None:
    """Each package loaded on demand as an attribute of its parent, as the import system binds a
    submodule it loads (`openai.lib.streaming` reached from `openai`); those set aside before
    their parent was imported are bound now. `vars`, not `hasattr`: that would load a parent
    that is itself on demand."""
    for name in _SDK_ON_DEMAND:
        parent_name, _, child = name.rpartition(".")
        module, parent = sys.modules.get(name), sys.modules.get(parent_name)
        if isinstance(module, _CatalogueOnDemand) and parent is not None and child not in vars(parent):
            setattr(parent, child, module)


def openai_sdk() -> ModuleType:
    """The OpenAI SDK, imported without its optional aiohttp transport and with its type
    catalogues and `openai.lib` loaded on demand (`_CatalogueOnDemand`: 0.7 -> 0.25 s here).

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
        found = importlib.util.find_spec("openai")
        if found is None or not found.submodule_search_locations:
            raise ModuleNotFoundError("No module named 'openai'", name="openai")
        if "openai" not in sys.modules:
            _defer_packages(Path(next(iter(found.submodule_search_locations))))
        # With aiohttp already imported its cost is paid: the SDK keeps its aiohttp client.
        hidden = _SDK_AIOHTTP_TRANSPORT not in sys.modules and "aiohttp" not in sys.modules
        if hidden:
            sys.modules[_SDK_AIOHTTP_TRANSPORT] = None  # type: ignore[assignment]  # the import system's "not installed"
        try:
            sdk = importlib.import_module("openai")
            _bind_to_parents()
            return sdk
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
    _start_tls_context()

    def load() -> None:
        # Any failure (not installed, interpreter shutting down) is left to the first call.
        with contextlib.suppress(Exception):
            openai_sdk()

    threading.Thread(target=load, name="workbench-sdk-import", daemon=True).start()


TLS_CONTEXT_WAIT_S = 10.0
_tls_lock = threading.Lock()
_tls_context: Future[ssl.SSLContext] | None = None


def _start_tls_context() -> None:
    """Build the HTTP client's default TLS context in a thread of its own, beside the SDK's import.

    The client builds it when it is made, after the import: 45-100 ms here, mostly OpenSSL
    loading the CA bundle outside the GIL, so in a thread it overlaps with the import instead
    of following it. It is httpx2's own default (`create_ssl_context()`: the same CA bundle,
    `SSL_CERT_FILE`/`SSL_CERT_DIR`, verification on).
    """
    global _tls_context
    with _tls_lock:
        if _tls_context is not None:
            return
        future: Future[ssl.SSLContext] = Future()
        _tls_context = future

    def build() -> None:
        try:
            import httpx2

            future.set_result(httpx2.create_ssl_context())
        except BaseException as err:  # told to the client's maker, which then builds its own
            future.set_exception(err)

    threading.Thread(target=build, name="workbench-tls-context", daemon=True).start()


def prefetched_tls_context() -> ssl.SSLContext | None:
    """The context `prefetch_http_client` started (waiting for it), or None: not started, failed
    or not done within `TLS_CONTEXT_WAIT_S` (the client then builds its own, and any error is its)."""
    future = _tls_context
    if future is None:
        return None
    try:
        return future.result(timeout=TLS_CONTEXT_WAIT_S)
    except Exception:  # includes the wait running out: a CA file that never ends reading
        return None
