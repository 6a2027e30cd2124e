"""promptfoo configs as workbench prompts: one prompt file per promptfoo prompt, tests attached.

What is carried over (promptfoo -> workbench):

| promptfoo | workbench |
| --- | --- |
| `prompts`: inline strings, `raw`, `id` / `label`, `file://x.txt` (`---` separates prompts), `file://x.json` / `.yaml` chat messages, Nunjucks `{{ var }}` | one prompt file each, named after the label / file; `messages:` (the `load` / `dump` filters work as in promptfoo) |
| `providers[0]`: `openai:chat:MODEL` / `openai:MODEL` with `apiBaseUrl` / `apiHost`, `apiKeyEnvar`, `temperature`, `max_tokens`, `top_p`, `seed`, `stop`, ...; `echo`; `ollama:chat:MODEL` | `model:` (ollama becomes an OpenAI-compatible endpoint on localhost:11434) |
| `tests`: inline, `file://` YAML / JSON / CSV (`__expected`, `__expectedN`, `__description`, `__threshold`, `__metric`, `__metadata:*`), lists mixing both | `tests:` inline, or a shared `NAME.tests.yaml` when several prompts share them |
| `defaultTest` (`vars`, `assert`, `threshold`, `options.transform` in Python, `metadata`) | `defaultTest:` |
| `vars` (array values expand into one test per combination, as promptfoo does; `file://` values read as promptfoo reads them), `threshold`, `weight`, `metric`, `assert-set`, `transform` (`file://x.py`) | the same fields |

What is not (each reported with its file, line and field): JavaScript (`javascript`
assertions, JS `transform`s, `.js` prompt functions), assertion types the workbench does not
run, providers other than the first and non-OpenAI ones, literal API keys, `scenarios`,
`redteam`, `nunjucksFilters`, `outputPath`, `env`, `evaluateOptions` and other top-level keys.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass
from typing import Any

from workbench.core.formats.base import Conversion, OutputFile, Source, dump_yaml
from workbench.core.formats.promptfoo_state import ConversionState, read_reference
from workbench.core.formats.promptfoo_tests import (
    assertion_options,
    convert_assertion,
    convert_test,
    load_var_files,
    test_entries,
)
from workbench.core.formats.templating import distinct_names, json_type, slug
from workbench.core.jsvalues import nunjucks_text
from workbench.core.model import Problem
from workbench.core.yamlpos import YamlSyntaxError, parse_yaml

PARAMETERS = ("temperature", "max_tokens", "top_p", "seed", "stop", "response_format", "frequency_penalty", "presence_penalty", "logprobs", "top_logprobs", "max_completion_tokens", "tools", "tool_choice", "functions", "function_call")
TOP_LEVEL_CARRIED = ("description", "prompts", "providers", "tests", "defaultTest")


@dataclass
class _Prompt:
    name: str
    label: str
    messages: list[dict[str, str]]
    where: tuple[str, int, int]


def nunjucks_to_jinja(text: str) -> str:
    """Nunjucks templates as workbench (Jinja2) ones.

    `{{ var }}`, filters, `{% if %}` / `{% for %}` mean the same in both; promptfoo's `load` and
    Nunjucks' `dump` filters exist in the workbench's template environment too. The text is
    therefore kept as it is; `validate` reports anything Jinja2 cannot parse.
    """
    return text


# ------------------------------------------------------------------ prompts
def _messages_from_chat(value: Any) -> list[dict[str, str]] | None:
    if (
        isinstance(value, list)
        and value
        and all(isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in value)
        and all(m["role"] in ("system", "user", "assistant") for m in value)
    ):
        return [{"role": m["role"], "content": nunjucks_to_jinja(m["content"])} for m in value]
    return None


def _prompt_text_messages(text: str) -> list[dict[str, str]]:
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            chat = _messages_from_chat(json.loads(stripped))
        except ValueError:
            chat = None
        if chat:
            return chat
    return [{"role": "user", "content": nunjucks_to_jinja(text)}]


def _prompts(state: ConversionState) -> list[_Prompt]:
    raw = state.doc.value.get("prompts")
    entries: list[tuple[Any, tuple[Any, ...]]]
    if raw is None:
        state.lost(("prompts",), "the config has no prompts")
        return []
    entries = [(raw, ("prompts",))] if isinstance(raw, (str, dict)) and not (isinstance(raw, dict) and ("raw" in raw or "id" in raw)) else []
    if isinstance(raw, list):
        entries = [(item, ("prompts", i)) for i, item in enumerate(raw)]
    elif isinstance(raw, dict) and not ("raw" in raw or "id" in raw):
        # {file://x.txt: label} map form
        entries = [({"id": key, "label": value}, ("prompts", key)) for key, value in raw.items()]
    elif isinstance(raw, dict):
        entries = [(raw, ("prompts",))]
    out: list[_Prompt] = []
    for item, where in entries:
        pos = state.doc.where(where)
        label = ""
        reference: str | None = None
        inline: str | None = None
        if isinstance(item, str):
            if item.startswith("file://"):
                reference = item
            else:
                inline = item
        elif isinstance(item, dict):
            label = str(item.get("label") or "")
            if isinstance(item.get("raw"), str):
                inline = item["raw"]
            elif isinstance(item.get("id"), str) and item["id"].startswith("file://"):
                reference = item["id"]
            elif isinstance(item.get("id"), str):
                inline = item["id"]
            for key in item:
                if key not in ("raw", "id", "label"):
                    state.lost((*where, key), f"prompts: `{key}` not carried over")
        else:
            state.lost(where, "prompt entry not understood")
            continue
        if inline is not None:
            name = label or (f"prompt-{len(out) + 1}")
            out.append(_Prompt(name, label, _prompt_text_messages(inline), (state.source.path, pos.line, pos.col)))
            continue
        assert reference is not None
        path_part, _, function = reference[len("file://") :].partition(":")
        extension = posixpath.splitext(path_part)[1].lower()
        if extension in (".js", ".cjs", ".mjs", ".ts", ".py") or function:
            state.lost(where, f"prompt {reference} is a function ({extension or 'code'}): not carried over", hint="render it once and paste the text, or rewrite it as a template")
            continue
        text = read_reference(state, path_part, where)
        if text is None:
            continue
        base = label or posixpath.splitext(posixpath.basename(path_part))[0]
        if extension in (".json", ".yaml", ".yml"):
            try:
                import yaml

                data = json.loads(text) if extension == ".json" else yaml.safe_load(text)
            except Exception as err:
                state.lost(where, f"{path_part} does not parse: {err}")
                continue
            chat = _messages_from_chat(data)
            if chat is None:
                state.lost(where, f"{path_part} is not a list of chat messages (role, content): not carried over")
                continue
            out.append(_Prompt(base, label, chat, (state.source.path, pos.line, pos.col)))
            continue
        parts = [p for p in re.split(r"^---$", text, flags=re.MULTILINE)] if extension in (".txt", "") else [text]
        parts = [p.strip("\n") if len(parts) > 1 else p for p in parts]
        for index, part in enumerate(parts):
            name = base if len(parts) == 1 else f"{base}-{index + 1}"
            out.append(_Prompt(name, label, _prompt_text_messages(part), (state.source.path, pos.line, pos.col)))
    for prompt, name in zip(out, distinct_names([slug(prompt.name) for prompt in out]), strict=True):
        prompt.name = name
    return out


# ------------------------------------------------------------------ providers
def _model(state: ConversionState) -> dict[str, Any]:
    raw = state.doc.value.get("providers")
    items = raw if isinstance(raw, list) else ([raw] if raw is not None else [])
    if not items:
        return {}
    for index in range(1, len(items)):
        where = ("providers", index) if isinstance(raw, list) else ("providers",)
        state.lost(where, "only the first provider is carried over (a workbench prompt has one model)", hint="run the others with `workbench test --provider/--model/--base-url`")
    first = items[0]
    where0: tuple[Any, ...] = ("providers", 0) if isinstance(raw, list) else ("providers",)
    if callable(first) or not isinstance(first, (str, dict)):
        state.lost(where0, "provider not understood")
        return {}
    provider_id = first if isinstance(first, str) else str(first.get("id", ""))
    config = first.get("config", {}) if isinstance(first, dict) and isinstance(first.get("config"), dict) else {}
    if isinstance(first, dict):
        for key in first:
            if key not in ("id", "config", "label"):
                state.lost((*where0, key), f"provider field `{key}` not carried over")
    model: dict[str, Any] = {}
    if provider_id == "echo":
        model["provider"] = "echo"
    elif provider_id.startswith("openai:") or provider_id.startswith("ollama:") or provider_id.startswith("azure:"):
        parts = provider_id.split(":")
        name = parts[-1] if len(parts) >= 2 else ""
        if parts[0] == "openai" and len(parts) >= 3 and parts[1] not in ("chat", "responses"):
            state.lost(where0, f"provider {provider_id}: only chat models are carried over")
            return {}
        model["provider"] = "openai"
        model["name"] = name
        if parts[0] == "ollama":
            model["base_url"] = "http://localhost:11434/v1"
        elif parts[0] == "azure":
            state.lost(where0, "Azure deployments: set model.base_url to your endpoint (not carried over)")
    else:
        state.lost(where0, f"provider {provider_id!r} is not carried over (the workbench runs openai-compatible, echo, local and python providers)", hint="set model: in the imported prompts")
        return {}
    parameters: dict[str, Any] = {}
    for key, value in config.items():
        where = (*where0, "config", key)
        if key in ("apiBaseUrl", "apiHost"):
            model["base_url"] = value if key == "apiBaseUrl" or str(value).startswith("http") else f"https://{value}/v1"
        elif key == "apiKeyEnvar":
            model["api_key_env"] = value
        elif key == "apiKey":
            state.lost(where, "a literal API key is not carried over (keys never live in the repository)", hint="export it in a variable and set model.api_key_env")
        elif key in PARAMETERS:
            parameters[key] = value
        else:
            state.lost(where, f"provider config `{key}` not carried over")
    if parameters:
        model["parameters"] = parameters
    return model


# ------------------------------------------------------------------ assertions and tests


# ------------------------------------------------------------------ inputs
def _template_variables(messages: list[dict[str, str]]) -> list[str]:
    from jinja2 import meta

    from workbench.core.templates import environment

    names: list[str] = []
    for message in messages:
        try:
            found = meta.find_undeclared_variables(environment().parse(message["content"]))
        except Exception:
            continue
        names.extend(sorted(n for n in found if n not in names))
    return names


def _inputs(state: ConversionState, prompt: _Prompt, tests: list[dict[str, Any]], default_vars: dict[str, Any]) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    for name in _template_variables(prompt.messages):
        values = [t["vars"][name] for t in tests if name in (t.get("vars") or {})]
        if name in default_vars:
            values.append(default_vars[name])
        types = {json_type(v) for v in values}
        if types == {"integer", "number"}:
            types = {"number"}
        spec: dict[str, Any] = {"type": types.pop() if len(types) == 1 else "string"}
        if len(types) > 0:  # mixed types: the text promptfoo's Nunjucks prints (`true`, `2`, nothing for null)
            for test in tests:
                if name in (test.get("vars") or {}) and not isinstance(test["vars"][name], str):
                    value = test["vars"][name]
                    test["vars"][name] = json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else nunjucks_text(value)
        covered = name in default_vars or (tests and all(name in (t.get("vars") or {}) for t in tests))
        if not covered:
            spec["default"] = "" if spec["type"] == "string" else None
            if spec["type"] != "string":
                spec["type"] = "string"
        inputs[name] = spec
    return inputs


# ------------------------------------------------------------------ the conversion
def convert(source: Source) -> Conversion:
    """A promptfoo config -> workbench prompt files (see the module docstring)."""
    try:
        doc = parse_yaml(source.text)
    except YamlSyntaxError as err:
        return Conversion([], [Problem(source.path, err.line, err.col, err.message)])
    if not isinstance(doc.value, dict):
        return Conversion([], [Problem(source.path, 1, 1, "a promptfoo config is a YAML mapping")])
    state = ConversionState(source, doc)
    for key in doc.value:
        if key not in TOP_LEVEL_CARRIED:
            state.lost((key,), f"`{key}` not carried over", hint="the workbench has no equivalent" if key in ("redteam", "scenarios", "nunjucksFilters", "env", "evaluateOptions", "outputPath", "sharing", "extensions") else None)
    prompts = _prompts(state)
    model = _model(state)
    # promptfoo keeps tools and the response format in the provider's config; a workbench prompt
    # carries them at the top level (literal values only: a file:// reference stays where it was).
    carried: dict[str, Any] = {}
    found = model.get("parameters")
    parameters: dict[str, Any] = found if isinstance(found, dict) else {}
    for key, kind in (("tools", list), ("tool_choice", (str, dict)), ("response_format", dict)):
        value = parameters.get(key)
        literal = isinstance(value, kind) and not (isinstance(value, str) and value.startswith("file://"))
        if literal and (key != "tool_choice" or "tools" in carried):
            carried[key] = parameters.pop(key)
    if "parameters" in model and not model["parameters"]:
        del model["parameters"]
    default_raw: dict[str, Any] = doc.value["defaultTest"] if isinstance(doc.value.get("defaultTest"), dict) else {}
    default_test: dict[str, Any] = {}
    for key, value in default_raw.items():
        where = ("defaultTest", key)
        if key == "vars" and isinstance(value, dict):
            default_test[key] = load_var_files(state, value, where)
        elif key in ("vars", "threshold", "metadata"):
            default_test[key] = value
        elif key == "assert":
            default_test["assert"] = [a for i, item in enumerate(value or []) if (a := convert_assertion(state, item, ("defaultTest", "assert", i), source.path, doc)) is not None]
        elif key == "options":
            options = assertion_options(state, value, where)
            if options:
                default_test["options"] = options
        else:
            state.lost(where, f"defaultTest field `{key}` not carried over")
    tests: list[dict[str, Any]] = []
    for test, file, test_doc, where in test_entries(state, doc.value.get("tests"), ("tests",)):
        tests.extend(convert_test(state, test, file, test_doc, where))
    folder = posixpath.join("prompts", source.prefix) if source.prefix else "prompts"
    description = doc.value.get("description") if isinstance(doc.value.get("description"), str) else None
    shared = len(prompts) > 1 and bool(tests)
    stem = slug(posixpath.splitext(posixpath.basename(source.path))[0]) if source.path else "promptfoo"
    if stem.startswith("promptfooconfig"):
        stem = slug(posixpath.basename(source.prefix)) if source.prefix else "promptfoo"
    tests_name = f"{stem}.tests.yaml"
    files: list[OutputFile] = []
    if shared:
        files.append(OutputFile(posixpath.join(folder, tests_name), dump_yaml(tests)))
    default_vars = default_test.get("vars") if isinstance(default_test.get("vars"), dict) else {}
    for prompt in prompts:
        document: dict[str, Any] = {}
        if description:
            document["description"] = description if not prompt.label else f"{description} ({prompt.label})"
        elif prompt.label:
            document["description"] = prompt.label
        document["tags"] = ["imported", "promptfoo"]
        if model:
            document["model"] = model
        prompt_tests = [json.loads(json.dumps(t)) for t in tests]
        inputs = _inputs(state, prompt, prompt_tests, default_vars or {})
        if inputs:
            document["inputs"] = inputs
        document["messages"] = prompt.messages
        document.update(json.loads(json.dumps(carried)))
        if default_test:
            own_default = dict(default_test)
            if isinstance(default_vars, dict) and default_vars:
                # A var this prompt never uses (not in its templates, not in an assertion value)
                # stays out of its defaultTest, so `validate` has nothing to warn about.
                asserts_text = json.dumps([default_test.get("assert"), [t.get("assert") for t in prompt_tests]], ensure_ascii=False)
                kept = {k: v for k, v in default_vars.items() if k in inputs or re.search(r"\{\{-?\s*" + re.escape(k) + r"\b", asserts_text)}
                if kept:
                    own_default["vars"] = kept
                else:
                    own_default.pop("vars", None)
            if own_default:
                document["defaultTest"] = own_default
        if shared:
            document["tests"] = f"file://{tests_name}"
        elif prompt_tests:
            document["tests"] = prompt_tests
        files.append(OutputFile(posixpath.join(folder, f"{prompt.name}.yaml"), dump_yaml(document)))
    if shared:
        # The shared tests file holds the vars as given; each prompt's inputs were computed
        # on its own copy, so mixed-type conversions must land in the shared file too.
        merged = [json.loads(json.dumps(t)) for t in tests]
        for prompt in prompts:
            _inputs(state, prompt, merged, default_vars or {})
        files[0] = OutputFile(files[0].path, dump_yaml(merged))
    state.problems.sort(key=lambda p: (p.path != source.path, p.path, p.line, p.col))
    return Conversion(files, state.problems)
