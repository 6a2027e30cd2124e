"""The OpenAI SDK loads lean (its type catalogue only when something asks for it) and stays whole."""

from __future__ import annotations

import json
import subprocess
import sys


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=120)


def _public_names(module_expr: str, *, lean: bool) -> set[str]:
    load = "from workbench.evals.sdk_import import openai_sdk\nopenai = openai_sdk()\n" if lean else "import openai\n"
    done = _run(load + f"import json, {module_expr}\nprint(json.dumps(sorted(n for n in dir({module_expr}) if not n.startswith('_'))))\n")
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout))


def test_the_sdk_loads_without_its_type_catalogue() -> None:
    """`openai.types` re-exports ~470 modules of pydantic models (0.4-0.5 s of the SDK's import
    here); a request needs a handful of them."""
    done = _run(
        "import sys\n"
        "from workbench.evals.sdk_import import openai_sdk\n"
        "sdk = openai_sdk()\n"
        "client = sdk.AsyncOpenAI(api_key='k', base_url='http://127.0.0.1:9', max_retries=0)\n"
        "assert client.chat.completions\n"
        "print(sum(name.startswith('openai.types.') for name in sys.modules))\n"
        "print(*(sys.modules[n].__dict__.get('_workbench_loaded') for n in ('openai.types', 'openai.types.chat', 'openai.types.responses', 'openai.types.shared')))\n"
    )
    assert done.returncode == 0, done.stderr
    loaded, *catalogues_loaded = done.stdout.split()
    assert int(loaded) < 80  # 100 with the shared catalogue, 84 with the chat one, ~650 with every catalogue
    # None: never run whole. The SDK asks for one name of the chat catalogue (lib/_tools.py),
    # a submodule of it (lib/_parsing), and a submodule of the shared one (its errors module).
    assert catalogues_loaded == ["None"] * 4


def test_the_sdk_loads_without_its_helpers_for_typed_outputs() -> None:
    """`openai.lib`'s `__init__` imports its structured-output parsing (`lib/_parsing`, ~40
    modules, 15-50 ms here) for one name the SDK's `__init__` never asks it for; this product
    reads answers as JSON. Asked for, it is all there."""
    done = _run(
        "import sys\n"
        "from workbench.evals.sdk_import import openai_sdk\n"
        "sdk = openai_sdk()\n"
        "client = sdk.AsyncOpenAI(api_key='k', base_url='http://127.0.0.1:9', max_retries=0)\n"
        "print('openai.lib._parsing' in sys.modules)\n"
        "from openai.lib import ResponseFormatT, type_to_response_format_param, pydantic_function_tool\n"
        "from openai.lib._parsing._completions import parse_chat_completion\n"
        "print(sdk.pydantic_function_tool is pydantic_function_tool, 'openai.lib._parsing' in sys.modules)\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True", "True"]
    assert _public_names("openai.lib", lean=True) == _public_names("openai.lib", lean=False)


def test_every_type_is_there_when_asked_for() -> None:
    for module in ("openai.types", "openai.types.chat", "openai.types.responses", "openai.types.shared"):
        assert _public_names(module, lean=True) == _public_names(module, lean=False), module
    done = _run(
        "from workbench.evals.sdk_import import openai_sdk\n"
        "openai = openai_sdk()\n"
        "from openai.types import Batch, CompletionUsage\n"
        "from openai.types.chat import ChatCompletion\n"
        "from openai.types.responses import Response\n"
        "from openai.types.responses.response import Response as Same\n"
        "assert Response is Same and openai.types.Batch is Batch\n"
        "namespace = {}\n"
        "exec('from openai.types import *', namespace)\n"
        "assert 'Batch' in namespace and 'ChatCompletion' not in namespace\n"
        "print(ChatCompletion.model_validate({'id': 'x', 'object': 'chat.completion', 'created': 1, 'model': 'm', 'choices': []}).id)\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "x"


def test_a_name_asked_for_loads_the_module_that_defines_it() -> None:
    done = _run(
        "import sys\n"
        "from workbench.evals.sdk_import import openai_sdk\n"
        "openai = openai_sdk()\n"
        "before = set(sys.modules)\n"
        "from openai.types.chat import ChatCompletionChunk, completion_create_params\n"
        "from openai.types import Batch\n"
        "import openai.types.chat.chat_completion_chunk as module\n"
        "assert ChatCompletionChunk is module.ChatCompletionChunk and completion_create_params.CompletionCreateParams\n"
        "print(len(set(sys.modules) - before), sys.modules['openai.types.chat'].__dict__.get('_workbench_loaded'))\n"
    )
    assert done.returncode == 0, done.stderr
    added, chat_loaded = done.stdout.split()
    # The chat catalogue's modules a chunk needs (~35: the SDK's import no longer loads the
    # completion's own); the whole catalogue is ~50 modules more.
    assert int(added) < 40 and chat_loaded == "None"


def test_threads_asking_for_types_at_once_get_the_same_ones() -> None:
    done = _run(
        "import threading\n"
        "from workbench.evals.sdk_import import openai_sdk\n"
        "openai = openai_sdk()\n"
        "seen, failures = [], []\n"
        "def ask():\n"
        "    try:\n"
        "        seen.append((openai.types.Batch, openai.types.responses.Response, openai.types.chat.ChatCompletion))\n"
        "    except Exception as err:\n"
        "        failures.append(repr(err))\n"
        "threads = [threading.Thread(target=ask) for _ in range(8)]\n"
        "[t.start() for t in threads]; [t.join() for t in threads]\n"
        "assert not failures, failures\n"
        "assert len(seen) == 8 and len(set(seen)) == 1\n"
    )
    assert done.returncode == 0, done.stderr


def test_a_missing_name_is_still_an_attribute_error() -> None:
    done = _run(
        "from workbench.evals.sdk_import import openai_sdk\n"
        "openai = openai_sdk()\n"
        "assert not hasattr(openai.types, 'NoSuchType')\n"
        "assert openai.types.Batch\n"
        "try:\n"
        "    from openai.types import NoSuchType\n"
        "except ImportError:\n"
        "    print('refused')\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "refused"
