"""promptfoo configs as workbench prompts: one prompt file per promptfoo prompt, tests attached.

What is carried over (promptfoo -> workbench):

| promptfoo | workbench |
| --- | --- |
| `prompts`: inline strings, `raw`, `id` / `label`, `file://x.txt` (`---` separates prompts), `file://x.json` / `.yaml` chat messages, Nunjucks `{{ var }}` | one prompt file each, named after the label / file; `messages:` (the `load` / `dump` filters work as in promptfoo) |
| `providers[0]`: `openai:chat:MODEL` / `openai:MODEL` with `apiBaseUrl` / `apiHost`, `apiKeyEnvar`, `temperature`, `max_tokens`, `top_p`, `seed`, `stop`, ...; `echo`; `ollama:chat:MODEL` | `model:` (ollama becomes an OpenAI-compatible endpoint on localhost:11434) |
| `tests`: inline, `file://` YAML / JSON / CSV (`__expected`, `__expectedN`, `__description`, `__threshold`, `__metric`, `__metadata:*`), lists mixing both | `tests:` inline, or a shared `NAME.tests.yaml` when several prompts share them |
| `defaultTest` (`vars`, `assert`, `threshold`, `options.transform` in Python, `metadata`) | `defaultTest:` |
| `vars` (array values expand into one test per combination, as promptfoo does), `threshold`, `weight`, `metric`, `assert-set`, `transform` (`file://x.py`) | the same fields |

What is not (each reported with its file, line and field): JavaScript (`javascript`
assertions, JS `transform`s, `.js` prompt functions), assertion types the workbench does not
run, providers other than the first and non-OpenAI ones, literal API keys, `scenarios`,
`redteam`, `nunjucksFilters`, `outputPath`, `env`, `evaluateOptions` and other top-level keys.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any

from workbench.core.assertion_types import ASSERTION_TYPES, UNSUPPORTED_PROMPTFOO_TYPES, is_unsupported
from workbench.core.formats import Conversion, OutputFile, Source, dump_yaml
from workbench.core.model import Problem, Severity
from workbench.core.yamlpos import YamlDocument, YamlSyntaxError, parse_yaml

PARAMETERS = ("temperature", "max_tokens", "top_p", "seed", "stop", "response_format", "frequency_penalty", "presence_penalty", "logprobs", "top_logprobs", "max_completion_tokens", "tools", "tool_choice", "functions", "function_call")
TOP_LEVEL_CARRIED = ("description", "prompts", "providers", "tests", "defaultTest")


@dataclass
class _Prompt:
    name: str
    label: str
    messages: list[dict[str, str]]
    where: tuple[str, int, int]


@dataclass
class _State:
    source: Source
    doc: YamlDocument
    problems: list[Problem] = field(default_factory=list)

    def lost(self, path: tuple[Any, ...], message: str, *, file: str | None = None, line: int = 0, col: int = 0, hint: str | None = None) -> None:
        """Record a field that is not carried over."""
        if file is None:
            pos = self.doc.where(path, key=bool(path) and isinstance(path[-1], str))
            file, line, col = self.source.path, pos.line, pos.col
        self.problems.append(Problem(file, max(line, 1), max(col, 1), message, Severity.WARNING, hint))


def slug(text: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", text.strip()).strip("-._").lower()
    return cleaned[:60] or "prompt"


def nunjucks_to_jinja(text: str) -> str:
    """Nunjucks templates as workbench (Jinja2) ones.

    `{{ var }}`, filters, `{% if %}` / `{% for %}` mean the same in both; promptfoo's `load` and
    Nunjucks' `dump` filters exist in the workbench's template environment too. The text is
    therefore kept as it is; `validate` reports anything Jinja2 cannot parse.
    """
    return text


def _read(state: _State, reference: str, where: tuple[Any, ...]) -> str | None:
    relative = reference[len("file://") :] if reference.startswith("file://") else reference
    if any(c in relative for c in "*?["):
        state.lost(where, f"glob {reference} not carried over", hint="list the files one by one")
        return None
    try:
        return state.source.read_file(relative)
    except (OSError, KeyError, ValueError) as err:
        state.lost(where, f"cannot read {relative}: {getattr(err, 'strerror', None) or err}")
        return None


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


def _prompts(state: _State) -> list[_Prompt]:
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
        text = _read(state, path_part, where)
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
    seen: dict[str, int] = {}
    for prompt in out:
        base_name = slug(prompt.name)
        count = seen.get(base_name, 0)
        seen[base_name] = count + 1
        prompt.name = base_name if count == 0 else f"{base_name}-{count + 1}"
    return out


# ------------------------------------------------------------------ providers
def _model(state: _State) -> dict[str, Any]:
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
def _assertion(state: _State, raw: Any, where: tuple[Any, ...], file: str, doc: YamlDocument | None) -> dict[str, Any] | None:
    def lost(message: str, hint: str | None = None, sub: tuple[Any, ...] = ()) -> None:
        if doc is not None and file == state.source.path:
            state.lost((*where, *sub), message, hint=hint)
        else:
            pos = doc.where((*where, *sub)) if doc is not None else None
            state.lost(where, message, file=file, line=pos.line if pos else 1, col=pos.col if pos else 1, hint=hint)

    if isinstance(raw, str):
        lost(f"assertion {raw!r} (a file reference) not carried over")
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        lost("assertion without a type: not carried over")
        return None
    kind = raw["type"]
    base = kind.removeprefix("not-")
    if kind == "assert-set":
        children = [c for i, item in enumerate(raw.get("assert") or []) if (c := _assertion(state, item, (*where, "assert", i), file, doc)) is not None]
        out: dict[str, Any] = {"type": "assert-set", "assert": children}
    elif base in ASSERTION_TYPES:
        out = {"type": kind}
    else:
        why = "JavaScript is not run by the workbench" if base == "javascript" else ("the workbench does not run this type" if is_unsupported(kind) else "unknown type")
        lost(f"assertion type '{kind}' not carried over: {why}", hint="rewrite it as a `python` assertion" if base == "javascript" else None, sub=("type",))
        return None
    for key, value in raw.items():
        if key in ("type", "assert"):
            continue
        if key in ("value", "threshold", "weight", "metric", "provider", "config"):
            out[key] = value
        elif key == "transform":
            if isinstance(value, str) and value.startswith("file://") and ".py" in value:
                out["transform"] = value
            else:
                lost("assertion `transform` in JavaScript not carried over", hint="write it as a Python expression over `output`", sub=("transform",))
        else:
            lost(f"assertion field `{key}` not carried over", sub=(key,))
    if base == "python" and isinstance(out.get("value"), str) and out["value"].startswith("file://"):
        lost("python file reference kept as is: the workbench resolves it from the repository root", sub=("value",))
    return out


def _options(state: _State, raw: Any, where: tuple[Any, ...], lost_file: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not isinstance(raw, dict):
        return out
    for key, value in raw.items():
        if key in ("transform", "postprocess") and isinstance(value, str) and value.startswith("file://") and ".py" in value:
            out["transform"] = value
        else:
            message = "test `options.transform` in JavaScript not carried over" if key in ("transform", "postprocess") else f"test option `{key}` not carried over"
            if lost_file is None:
                state.lost((*where, key), message)
            else:
                state.lost(where, message, file=lost_file, line=1, col=1)
    return out


def assertion_from_string(expected: str) -> dict[str, Any]:
    """promptfoo's CSV `__expected` cell syntax (assertionFromString)."""
    if expected.startswith(("javascript:", "fn:", "eval:")):
        return {"type": "javascript", "value": expected.split(":", 1)[1].strip()}
    if expected.startswith("grade:") or expected.startswith("llm-rubric:"):
        return {"type": "llm-rubric", "value": expected.split(":", 1)[1]}
    if expected.startswith("python:") or (expected.startswith("file://") and (expected.endswith(".py") or ".py:" in expected)):
        return {"type": "python", "value": expected[7:].strip()}
    types = "|".join(re.escape(t) for t in sorted((*ASSERTION_TYPES, *UNSUPPORTED_PROMPTFOO_TYPES), key=len, reverse=True))
    match = re.match(rf"^(not-)?({types})(?:\((\d+(?:\.\d+)?)\))?(?::([\s\S]*))?$", expected)
    if not match:
        return {"type": "equals", "value": expected}
    negated, kind, threshold_text, value = match.groups()
    full = f"not-{kind}" if negated else kind
    if kind in ("contains-all", "contains-any", "icontains-all", "icontains-any"):
        from_values: Any = value
        if value:
            from_values = _csv_values(value)
        return {"type": full, "value": from_values}
    if kind in ("contains-json", "is-json"):
        return {"type": full, "value": value} if value is not None else {"type": full}
    out: dict[str, Any] = {"type": full}
    if value is not None:
        out["value"] = value.strip()
    if kind in ("cost", "latency", "levenshtein", "perplexity-score", "perplexity", "rouge-n", "similar", "starts-with", "answer-relevance", "classifier", "context-faithfulness", "context-recall", "context-relevance"):
        out["threshold"] = float(threshold_text) if threshold_text else (0.8 if kind == "similar" else 0.75)
    return out


def _csv_values(value: str) -> list[str]:
    from workbench.core.formats.csvvalues import parse_comma_separated

    return parse_comma_separated(value)


def _csv_tests(state: _State, text: str, where: tuple[Any, ...], name: str) -> list[dict[str, Any]]:
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    tests: list[dict[str, Any]] = []
    for row_index, row in enumerate(rows):
        test: dict[str, Any] = {"description": f"Row #{row_index + 1}"}  # promptfoo's name for a CSV row
        variables: dict[str, Any] = {}
        asserts: list[dict[str, Any]] = []
        metadata: dict[str, Any] = {}
        metric = None
        for key, value in ((k.strip(), v if v is not None else "") for k, v in row.items() if k is not None):
            if key.startswith("__expected"):
                if value.strip():
                    asserts.append(assertion_from_string(value.strip()))
            elif key == "__description":
                test["description"] = value
            elif key == "__threshold":
                with contextlib.suppress(ValueError):
                    test["threshold"] = float(value)
            elif key == "__metric":
                metric = value
            elif key.startswith("__metadata:"):
                if value.strip():
                    meta_key = key[len("__metadata:") :]
                    if meta_key.endswith("[]"):
                        metadata[meta_key[:-2]] = [v.strip().replace("\\,", ",") for v in re.split(r"(?<!\\),", value)]
                    else:
                        metadata[meta_key] = value
            elif key.startswith("__"):
                state.lost(where, f"CSV column {key} not carried over", file=name, line=1, col=1)
            else:
                variables[key] = value
        kept = []
        for index, assertion in enumerate(asserts):
            if metric:
                assertion["metric"] = metric
            converted = _assertion(state, assertion, where, name, None)
            if converted is None:
                state.problems[-1] = Problem(name, row_index + 2, 1, f"row {row_index + 1}, __expected{index + 1 if index else ''}: {state.problems[-1].message}", Severity.WARNING, state.problems[-1].hint)
            else:
                kept.append(converted)
        test["vars"] = variables
        if kept:
            test["assert"] = kept
        if metadata:
            test["metadata"] = metadata
        tests.append(test)
    return tests


def _test_entries(state: _State, raw: Any, where: tuple[Any, ...]) -> list[tuple[dict[str, Any], str, YamlDocument | None, tuple[Any, ...]]]:
    """(test, its file, its document, its path in that document) for every test."""
    out: list[tuple[dict[str, Any], str, YamlDocument | None, tuple[Any, ...]]] = []
    if raw is None:
        return out
    items = raw if isinstance(raw, list) else [raw]
    for index, item in enumerate(items):
        item_where = (*where, index) if isinstance(raw, list) else where
        if isinstance(item, dict):
            out.append((item, state.source.path, state.doc, item_where))
            continue
        if not isinstance(item, str) or not item.startswith("file://"):
            state.lost(item_where, "test entry not understood")
            continue
        relative = item[len("file://") :]
        text = _read(state, relative, item_where)
        if text is None:
            continue
        extension = posixpath.splitext(relative)[1].lower()
        if extension == ".csv":
            out.extend((t, relative, None, ()) for t in _csv_tests(state, text, item_where, relative))
            continue
        if extension == ".jsonl":
            for line_no, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    out.append((json.loads(line), relative, None, ()))
                except ValueError as err:
                    state.lost(item_where, f"line {line_no} is not JSON: {err}", file=relative, line=line_no, col=1)
            continue
        if extension not in (".yaml", ".yml", ".json"):
            state.lost(item_where, f"tests file {relative} ({extension or 'no extension'}) not carried over")
            continue
        try:
            tests_doc = parse_yaml(text)
        except YamlSyntaxError as err:
            state.problems.append(Problem(relative, err.line, err.col, err.message))
            continue
        value = tests_doc.value
        if isinstance(value, dict):
            value = [value]
        if not isinstance(value, list):
            state.lost(item_where, f"{relative} is not a list of tests")
            continue
        for test_index, test in enumerate(value):
            if isinstance(test, dict):
                out.append((test, relative, tests_doc, (test_index,)))
    return out


def _expand_vars(variables: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """promptfoo runs one test per combination of array-valued vars."""
    array_keys = [k for k, v in variables.items() if isinstance(v, list)]
    if not array_keys:
        return [(variables, "")]
    out = []
    for combo in itertools.product(*(variables[k] for k in array_keys)):
        expanded = {**variables, **dict(zip(array_keys, combo, strict=True))}
        suffix = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v}" for k, v in zip(array_keys, combo, strict=True))
        out.append((expanded, suffix))
    return out


def _convert_test(state: _State, test: dict[str, Any], file: str, doc: YamlDocument | None, where: tuple[Any, ...]) -> list[dict[str, Any]]:
    out: dict[str, Any] = {}
    for key, value in test.items():
        sub = (*where, key)
        if key in ("description", "threshold", "metadata"):
            out[key] = value
        elif key == "vars":
            if isinstance(value, dict):
                out["vars"] = dict(value)
            elif isinstance(value, str) and value.startswith("file://"):
                text = _read(state, value, sub)
                if text is not None:
                    import yaml

                    loaded = yaml.safe_load(text)
                    out["vars"] = dict(loaded) if isinstance(loaded, dict) else {}
        elif key == "assert":
            asserts = [a for i, item in enumerate(value or []) if (a := _assertion(state, item, (*where, "assert", i), file, doc)) is not None]
            out["assert"] = asserts
        elif key == "options":
            options = _options(state, value, sub) if file == state.source.path else _options(state, value, sub, lost_file=file)
            if options:
                out["options"] = options
        else:
            if file == state.source.path:
                state.lost(sub, f"test field `{key}` not carried over")
            else:
                pos = doc.where(sub) if doc is not None else None
                state.lost(sub, f"test field `{key}` not carried over", file=file, line=pos.line if pos else 1, col=pos.col if pos else 1)
    for name, value in list((out.get("vars") or {}).items()):
        if isinstance(value, str) and value.startswith("file://"):
            text = _read(state, value, (*where, "vars", name))
            if text is not None:
                out["vars"][name] = text
    expanded = []
    for variables, suffix in _expand_vars(out.get("vars") or {}):
        copy = dict(out)
        if "vars" in out or variables:
            copy["vars"] = variables
        if suffix:
            copy["description"] = f"{out.get('description', 'case')} [{suffix}]"
        expanded.append(copy)
    return expanded


# ------------------------------------------------------------------ inputs
def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string"


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


def _inputs(state: _State, prompt: _Prompt, tests: list[dict[str, Any]], default_vars: dict[str, Any]) -> dict[str, Any]:
    inputs: dict[str, Any] = {}
    for name in _template_variables(prompt.messages):
        values = [t["vars"][name] for t in tests if name in (t.get("vars") or {})]
        if name in default_vars:
            values.append(default_vars[name])
        types = {_json_type(v) for v in values}
        if types == {"integer", "number"}:
            types = {"number"}
        spec: dict[str, Any] = {"type": types.pop() if len(types) == 1 else "string"}
        if len(types) > 0:  # mixed types: promptfoo renders them all as text
            for test in tests:
                if name in (test.get("vars") or {}) and not isinstance(test["vars"][name], str):
                    test["vars"][name] = json.dumps(test["vars"][name], ensure_ascii=False) if isinstance(test["vars"][name], (list, dict)) else str(test["vars"][name])
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
    state = _State(source, doc)
    for key in doc.value:
        if key not in TOP_LEVEL_CARRIED:
            state.lost((key,), f"`{key}` not carried over", hint="the workbench has no equivalent" if key in ("redteam", "scenarios", "nunjucksFilters", "env", "evaluateOptions", "outputPath", "sharing", "extensions") else None)
    prompts = _prompts(state)
    model = _model(state)
    default_raw: dict[str, Any] = doc.value["defaultTest"] if isinstance(doc.value.get("defaultTest"), dict) else {}
    default_test: dict[str, Any] = {}
    for key, value in default_raw.items():
        where = ("defaultTest", key)
        if key in ("vars", "threshold", "metadata"):
            default_test[key] = value
        elif key == "assert":
            default_test["assert"] = [a for i, item in enumerate(value or []) if (a := _assertion(state, item, ("defaultTest", "assert", i), source.path, doc)) is not None]
        elif key == "options":
            options = _options(state, value, where)
            if options:
                default_test["options"] = options
        else:
            state.lost(where, f"defaultTest field `{key}` not carried over")
    tests: list[dict[str, Any]] = []
    for test, file, test_doc, where in _test_entries(state, doc.value.get("tests"), ("tests",)):
        tests.extend(_convert_test(state, test, file, test_doc, where))
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
