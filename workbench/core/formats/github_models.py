"""GitHub Models prompt files (`*.prompt.yml`, run by `gh models eval`) <-> workbench prompts.

A file is read as gh's YAML library, yaml.v3, decodes it into gh's structs (`go_yaml`; a file
gh's loader refuses is refused, and model parameters take Go's types: `gh_decode`): a
string field keeps its text (`content: 1e6` is `1e6`), a testData value is resolved by yaml.v3's
rules (`1e6` is a float, `on` a word); the export quotes each text yaml.v3 would read as
something else (`go_yaml.GoQuoting`).
Read from gh-models' own code (`pkg/prompt/prompt.go`, `cmd/eval/eval.go`, `builtins.go`):

| GitHub Models | workbench |
| --- | --- |
| `model: publisher/model` | `model: {provider: openai, name: publisher/model, base_url: https://models.github.ai/inference, api_key_env: GITHUB_TOKEN}` (the same OpenAI-compatible endpoint `gh` calls) |
| `modelParameters`: `maxTokens`, `temperature`, `topP` | `model.parameters`: `max_tokens`, `temperature`, `top_p` |
| `responseFormat` + `jsonSchema` (a JSON string) | `response_format` |
| `messages` with `{{var}}` (exact: `gh` replaces `{{key}}` with no spaces inside) | `messages` with `{{ var }}`; other text that Jinja would read is kept as literal text |
| `testData` rows | `tests` (`test case N`, as `gh` numbers them); a key only evaluators use is substituted into that test's assertions, as `gh` does; other unused keys go to the test's `metadata` |
| `string: contains` | `icontains` (`gh` lowercases both) |
| `string: startsWith` / `endsWith` / `equals` | `starts-with` / `regex ...$` / `equals` over the trimmed (and, but for `equals`, lowercased) answer: `transform: output.strip().lower()` |
| `uses: github/similarity` (and coherence, fluency, relevance, groundedness) | `llm-rubric` with `metric: github/<name>` (the nearest: a model grades the answer; `gh` scores 1-5 and passes from 2) |
"""

from __future__ import annotations

import json
import math
import posixpath
import re
from decimal import Decimal
from typing import Any

from workbench.core.formats.base import Conversion, ExportItem, OutputFile, Source, dump_yaml
from workbench.core.formats.gh_decode import GoFatal, decode_file
from workbench.core.formats.go_yaml import GoQuoting, GoText, go_value
from workbench.core.formats.promptfoo_state import ConversionState
from workbench.core.formats.templating import (
    escape_literal,
    jinja_to_placeholders,
    json_type,
    line_col,
    mapping,
    partial_texts,
    placeholders_to_jinja,
    slug,
)
from workbench.core.model import Problem, Severity
from workbench.core.safe_text import clean
from workbench.core.yamlpos import YamlDocument, YamlSyntaxError, parse_yaml

ENDPOINT = "https://models.github.ai/inference"
KEY_ENV = "GITHUB_TOKEN"
PLACEHOLDER = re.compile(r"\{\{([^{}]+?)\}\}")
TOP_LEVEL = ("name", "description", "model", "modelParameters", "responseFormat", "jsonSchema", "messages", "testData", "evaluators")
PARAMETERS = {"maxTokens": "max_tokens", "temperature": "temperature", "topP": "top_p"}
STRIP_LOWER = "output.strip().lower()"
STRIP = "output.strip()"
BUILTIN_RUBRICS = {
    "github/similarity": "The answer is equivalent in information and content to this correct answer: {expected}",
    "github/coherence": "The answer is coherent: logically organised, its ideas connected, easy to follow.",
    "github/fluency": "The answer is fluent: grammatical, well worded, readable.",
    "github/relevance": "The answer is relevant: it addresses the query directly and completely.",
    "github/groundedness": "The answer is grounded: everything it says is supported by the given context.",
}


def _js_escape(text: str) -> str:
    return re.sub(r"[\\^$.*+?()[\]{}|/]", lambda m: "\\" + m.group(0), text)


def _evaluator_assertion(kind: str, value: str) -> dict[str, Any]:
    """The workbench assertion doing what gh's string evaluator does (values are literal text)."""
    if kind == "contains":
        return {"type": "icontains", "value": escape_literal(value)}
    if kind == "startsWith":
        return {"type": "starts-with", "value": escape_literal(value.lower()), "transform": STRIP_LOWER}
    if kind == "endsWith":
        return {"type": "regex", "value": _js_escape(value.lower()) + "$", "transform": STRIP_LOWER}
    return {"type": "equals", "value": escape_literal(value), "transform": STRIP}


def _as_gh_prints(value: Any) -> Any:
    """A testData value as gh substitutes it: Go's `%v` of the float64 yaml.v3 decodes prints a
    whole number without `.0` (`2.0` is `2`) and from 1e6 or under 1e-4 in exponent form (`1e+06`),
    where Jinja prints `2.0` and `1000000.0`: such floats become the int, or the text Go prints;
    so do `.inf`, `.nan` and `-0.0` (`+Inf`, `NaN`, `-0`: JSON has no infinity), in a list too."""
    if isinstance(value, list):
        return [_as_gh_prints(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_gh_prints(v) for k, v in value.items()}
    if not isinstance(value, float):
        return value
    if not math.isfinite(value) or value == 0:
        return "NaN" if value != value else "+Inf" if value > 0 else "-Inf" if value < 0 else "-0" if math.copysign(1, value) < 0 else 0
    shortest = Decimal(repr(value)).normalize()
    negative, digits, power = shortest.as_tuple()
    exponent = len(digits) + int(power) - 1
    if -4 <= exponent < 6:
        return int(value) if value.is_integer() else value  # Python's own text is Go's here
    text = "".join(map(str, digits))
    return f"{'-' if negative else ''}{text[0]}{'.' + text[1:] if len(text) > 1 else ''}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"


def _substitute(text: str, row: dict[str, Any]) -> str:
    """`gh`'s TemplateString: each `{{key}}` of the row replaced by its value (Go's %v for non-strings)."""
    for key, value in row.items():
        text = text.replace("{{" + str(key) + "}}", _gh_text(value))
    return text


def _gh_text(value: Any) -> str:
    """What gh puts in place of `{{key}}` (Go's `%v`), for a value `_as_gh_prints` has seen: nil
    is `<nil>`, a list `[a b]`, a mapping `map[k:v]` (keys sorted, as fmt sorts them)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or value is None:
        return json.dumps(value) if value is not None else "<nil>"
    if isinstance(value, list):
        return "[" + " ".join(_gh_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "map[" + " ".join(f"{_gh_text(k)}:{_gh_text(v)}" for k, v in sorted(value.items(), key=lambda item: str(item[0]))) + "]"
    return str(value)


def _row_assertion(assertion: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    """A per-row evaluator with the row's values substituted, as gh does before comparing."""
    kind, value = assertion["raw"]
    text = _substitute(value, row)
    base = {k: v for k, v in assertion.items() if k != "raw"}
    made = {"type": "llm-rubric", "value": escape_literal(text)} if kind == "rubric" else _evaluator_assertion(kind, text)
    return {**made, **{k: v for k, v in base.items() if k not in made}}


def _go_value(doc: YamlDocument, path: tuple[str | int, ...]) -> Any:
    """The value at `path` as yaml.v3 decodes it into a Go interface{} (`doc.value` holds text)."""
    assert doc.nodes is not None
    return go_value(doc.nodes[path])


def _test_data(doc: YamlDocument, data: dict[str, Any]) -> list[dict[str, Any]]:
    """The testData rows as gh holds them (map[string]interface{}): each key its text (a null
    key is dropped, as yaml.v3 drops it), each value as yaml.v3 resolves it and gh prints it."""
    rows = data.get("testData")
    return [
        {key: _as_gh_prints(_go_value(doc, ("testData", index, key))) for key in row if key is not None}
        for index, row in enumerate(rows if isinstance(rows, list) else [])
        if isinstance(row, dict)
    ]


def convert(source: Source) -> Conversion:
    """A `.prompt.yml` file -> one workbench prompt (see the module docstring)."""
    try:
        doc = parse_yaml(source.text, schema=GoText, keep_nodes=True)  # as gh reads it: yaml.v3, not PyYAML (go_yaml)
    except YamlSyntaxError as err:
        return Conversion([], [Problem(source.path, err.line, err.col, err.message)])
    data = doc.value
    if not isinstance(data, dict):
        return Conversion([], [Problem(source.path, 1, 1, "a GitHub Models prompt file is a YAML mapping")])
    assert doc.nodes is not None
    try:
        decoded = decode_file(doc.nodes[()])  # what gh's yaml.Unmarshal refuses, gh refuses the file for
    except GoFatal as err:
        return _refused(source, [(err.node, str(err))])
    if decoded.errors:
        return _refused(source, decoded.errors)
    state = ConversionState(source, doc)
    for key in data:
        if key not in TOP_LEVEL:
            state.lost((key,), f"`{key}` not carried over (gh models ignores it too)")
    document: dict[str, Any] = {}
    if isinstance(data.get("description"), str):
        document["description"] = data["description"]
    if isinstance(data.get("name"), str):
        state.lost(("name",), f"the display name {data['name']!r} is not carried over: a workbench prompt is named by its path")
    document["tags"] = ["imported", "github-models"]
    model: dict[str, Any] = {"provider": "openai"}
    if isinstance(data.get("model"), str):
        model["name"] = data["model"]
        model["base_url"] = ENDPOINT
        model["api_key_env"] = KEY_ENV
    parameters: dict[str, Any] = {}
    raw_parameters = data.get("modelParameters")
    if isinstance(raw_parameters, dict):
        for key in raw_parameters:
            if key in PARAMETERS:
                number = decoded.numbers.get(("modelParameters", key))  # the Go int or float64 gh holds
                why = None  # every request of the file would fail: refused, as gh cannot run it
                if isinstance(number, float) and not math.isfinite(number):
                    why = "which cannot send it (JSON has no infinity or NaN): every request fails"
                elif key == "maxTokens" and isinstance(number, int) and number < 1:  # -.inf, -1e30: the least int64
                    why = "which sends it as max_tokens: every request fails (a model answers in at least 1 token)"
                if why:
                    node = doc.nodes[("modelParameters", key)]
                    return _refused(source, [(node, f"{key} {clean(node.value)!r} is {_as_gh_prints(number)} to gh models, {why}")], prefix="")
                if number is not None:  # a null: gh sends none
                    parameters[PARAMETERS[key]] = number
            else:
                state.lost(("modelParameters", key), f"model parameter `{key}` not carried over (gh models sends only maxTokens, temperature, topP)")
    if parameters:
        model["parameters"] = parameters
    if len(model) > 1:
        document["model"] = model
    response_format = _response_format(state, data)

    # Messages: `{{key}}` placeholders; the keys of testData decide what gh substitutes.
    rows = _test_data(doc, data)
    messages: list[dict[str, str]] = []
    used: list[str] = []
    for index, message in enumerate(data.get("messages") or []):
        if not isinstance(message, dict):
            state.lost(("messages", index), "message without text content not carried over")
            continue
        if message.get("content") is None:  # null or missing: Go's empty string, which gh sends
            message["content"] = ""
        role = str(message.get("role", "")).lower()
        if role not in ("system", "user", "assistant"):
            state.lost(("messages", index, "role"), f"message role {message.get('role')!r} not carried over (gh models knows system, user, assistant)")
            continue
        content, names, kept = placeholders_to_jinja(message["content"], PLACEHOLDER)
        for offset, text in kept:
            pos = doc.where(("messages", index, "content"))
            line, col = line_col(message["content"], offset, pos.line + (1 if pos.style in ("|", ">") else 0))
            state.lost(("messages", index, "content"), f"{text} is not a variable name: kept as text", file=source.path, line=line, col=col)
        messages.append({"role": role, "content": content})
        used.extend(n for n in names if n not in used)
    if not messages:
        state.lost(("messages",), "the file has no messages")
    inputs: dict[str, Any] = {}
    for name in used:
        values = [row[name] for row in rows if name in row]
        types = {json_type(v) for v in values} or {"string"}
        if types == {"integer", "number"}:  # 2 and 2.5: one number input
            types = {"number"}
        spec: dict[str, Any] = {"type": types.pop() if len(types) == 1 else "string"}
        if rows and len(values) < len(rows):
            # gh leaves `{{name}}` as it is when a row has no such key: the default says the same.
            spec["default"] = "{{" + name + "}}"
            spec["type"] = "string"
            state.lost(("messages",), f"`{name}` is missing from some testData rows: its default is the literal text {{{{{name}}}}}, as gh models sends it", hint="give every row a value")
        else:
            spec["required"] = True
        if spec["type"] == "string":  # a column of mixed types: each value as the text gh sends
            for row in rows:
                if name in row:
                    row[name] = _gh_text(row[name])
        inputs[name] = spec
    if inputs:
        document["inputs"] = inputs
    document["messages"] = messages
    if response_format is not None:
        document["response_format"] = response_format

    shared, per_row, row_keys = _evaluators(state, data)
    tests: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        test: dict[str, Any] = {"description": f"test case {index + 1}"}
        variables = {k: v for k, v in row.items() if k in inputs}
        if variables:
            test["vars"] = variables
        asserts = [_row_assertion(a, row) for a in per_row]
        if asserts:
            test["assert"] = asserts
        metadata = {k: v for k, v in row.items() if k not in inputs and k not in row_keys}
        if metadata:
            test["metadata"] = metadata
        tests.append(test)
    if shared:
        document["defaultTest"] = {"assert": shared}
    if tests:
        document["tests"] = tests
    stem = posixpath.basename(source.path)
    for suffix in (".prompt.yml", ".prompt.yaml", ".yml", ".yaml"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    folder = posixpath.join("prompts", source.prefix) if source.prefix else "prompts"
    state.problems.sort(key=lambda p: (p.line, p.col))
    return Conversion([OutputFile(posixpath.join(folder, f"{slug(stem)}.yaml"), dump_yaml(document))], state.problems)


def _refused(source: Source, errors: list[tuple[Any, str]], prefix: str = "gh models cannot read this file (yaml.v3): ") -> Conversion:
    """No prompt: gh refuses the file (LoadFromFile's error), each error at its node."""
    problems = [Problem(source.path, node.start_mark.line + 1, node.start_mark.column + 1, prefix + message) for node, message in errors]
    return Conversion([], problems)


def _response_format(state: ConversionState, data: dict[str, Any]) -> dict[str, Any] | None:
    kind = data.get("responseFormat")
    if kind is None:
        if "jsonSchema" in data:
            state.lost(("jsonSchema",), "jsonSchema without responseFormat: json_schema is ignored by gh models: not carried over")
        return None
    if kind in ("text", "json_object"):
        return {"type": kind}
    if kind == "json_schema":
        try:
            schema = json.loads(data.get("jsonSchema") or "")
        except (TypeError, ValueError) as err:
            state.lost(("jsonSchema",), f"jsonSchema is not a JSON string: {err}")
            return None
        if not isinstance(schema, dict) or "name" not in schema or "schema" not in schema:
            state.lost(("jsonSchema",), "jsonSchema must hold `name` and `schema`")
            return None
        return {"type": "json_schema", "json_schema": schema}
    state.lost(("responseFormat",), f"responseFormat {kind!r} is not text, json_object or json_schema")
    return None


def _evaluators(state: ConversionState, data: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], set[str]]:
    """(assertions for every test, assertions whose value names row keys, those keys)."""
    shared: list[dict[str, Any]] = []
    per_row: list[dict[str, Any]] = []
    keys: set[str] = set()
    for index, evaluator in enumerate(data.get("evaluators") or []):
        where = ("evaluators", index)
        if not isinstance(evaluator, dict):
            state.lost(where, "evaluator not understood")
            continue
        label = str(evaluator.get("name") or f"evaluator {index + 1}")
        if isinstance(evaluator.get("string"), dict):
            checks = {k: v for k, v in evaluator["string"].items() if k in ("equals", "contains", "startsWith", "endsWith") and v}
            for key in evaluator["string"]:
                if key not in ("equals", "contains", "startsWith", "endsWith"):
                    state.lost((*where, "string", key), f"string evaluator `{key}` not carried over")
            if not checks:
                state.lost(where, f"evaluator {label!r} has no string check")
                continue
            # gh runs the first of equals, contains, startsWith, endsWith and ignores the others.
            kind = next(k for k in ("equals", "contains", "startsWith", "endsWith") if k in checks)
            for other in checks:
                if other != kind:
                    state.lost((*where, "string", other), f"`{other}` is ignored by gh models when `{kind}` is set: not carried over")
            value = str(checks[kind])
            assertion = _evaluator_assertion(kind, value)
            assertion["metric"] = label
            names = set(PLACEHOLDER.findall(value))
            if names:
                keys |= names
                per_row.append({**assertion, "raw": (kind, value)})
            else:
                shared.append(assertion)
        elif isinstance(evaluator.get("uses"), str):
            uses = evaluator["uses"]
            rubric = BUILTIN_RUBRICS.get(uses)
            if rubric is None:
                state.lost((*where, "uses"), f"evaluator {uses!r} not carried over (unknown built-in)")
                continue
            state.lost((*where, "uses"), f"{uses} becomes an llm-rubric assertion (the nearest: gh scores 1-5 with its own grading prompt)", hint="set a grader with --provider or the assertion's provider")
            if "{expected}" in rubric:
                keys.add("expected")
                per_row.append({"type": "llm-rubric", "metric": uses, "raw": ("rubric", rubric.replace("{expected}", "{{expected}}"))})
            else:
                shared.append({"type": "llm-rubric", "value": rubric, "metric": uses})
        elif isinstance(evaluator.get("llm"), dict):
            state.lost((*where, "llm"), f"custom LLM evaluator {label!r} not carried over (its choices and scores have no workbench equivalent)", hint="write an llm-rubric assertion")
        else:
            state.lost(where, f"evaluator {label!r} has no string, uses or llm check")
    return shared, per_row, keys


# ------------------------------------------------------------------ export
def _evaluator_of(assertion: dict[str, Any]) -> tuple[str, str] | None:
    """(gh evaluator kind, value) for the assertion shapes import writes; None otherwise."""
    kind, value, transform = assertion.get("type"), assertion.get("value"), assertion.get("transform")
    metric = assertion.get("metric")
    if kind == "llm-rubric" and isinstance(metric, str) and metric in BUILTIN_RUBRICS:
        return "uses", metric
    if not isinstance(value, str):
        return None
    if kind != "regex":
        literal, _ = jinja_to_placeholders(value, {})
        if literal is None:
            return None
        value = literal
    if kind == "icontains" and transform is None:
        return "contains", value
    if kind == "starts-with" and transform == STRIP_LOWER and value == value.lower():
        return "startsWith", value
    if kind == "equals" and transform == STRIP:
        return "equals", value
    if kind == "regex" and transform == STRIP_LOWER and value.endswith("$"):
        body = value[:-1]
        plain = re.sub(r"\\(.)", r"\1", body)
        if _js_escape(plain) == body:
            return "endsWith", plain
    return None


def export(items: list[ExportItem]) -> Conversion:
    """What an environment runs, as `.prompt.yml` files `gh models eval` accepts."""
    out = Conversion()
    for item in items:
        prompt = item.current.prompt
        where = f"{prompt.path}@{item.current.version or item.current.commit[:10]}"

        def lost(message: str, item_where: str = where) -> None:
            out.problems.append(Problem(item_where, 1, 1, message, Severity.WARNING))

        partials = partial_texts(prompt)
        messages = []
        failed = False
        for index, message in enumerate(prompt.messages or ()):
            text, why = jinja_to_placeholders(message.content, partials)
            if text is None:
                lost(f"message {index + 1} not exported: gh models substitutes only {{{{var}}}}, and {why}")
                failed = True
                break
            messages.append({"role": message.role, "content": text})
        if prompt.template is not None:
            lost("a completion prompt (`template`) is not exported: gh models runs chat messages only")
            continue
        if failed:
            continue
        document: dict[str, Any] = {"name": item.name}
        if prompt.description:
            document["description"] = prompt.description
        name = prompt.model.name or ""
        if "/" not in name:
            lost(f"model {name or '(none)'} has no publisher: written as openai/{name or 'gpt-4o-mini'}")
            name = f"openai/{name or 'gpt-4o-mini'}"
        document["model"] = name
        reverse = {ours: gh for gh, ours in PARAMETERS.items()}
        parameters = {reverse[key]: value for key, value in prompt.model.parameters.items() if key in reverse}  # the file's order
        for key in prompt.model.parameters:
            if key not in PARAMETERS.values():
                lost(f"model parameter `{key}` not exported (gh models sends only maxTokens, temperature, topP)")
        if parameters:
            document["modelParameters"] = parameters
        if prompt.response_format is not None:
            document["responseFormat"] = prompt.response_format.get("type")
            if prompt.response_format.get("type") == "json_schema":
                document["jsonSchema"] = json.dumps(prompt.response_format.get("json_schema"), indent=2, ensure_ascii=False)
        if prompt.tools:
            lost("tools not exported: a gh models prompt file has no tools")
        document["messages"] = messages
        rows, evaluators = _export_tests(prompt, lost)
        if rows:
            document["testData"] = rows
        if evaluators:
            document["evaluators"] = evaluators
        out.files.append(OutputFile(f"{item.name}.prompt.yml", dump_yaml(document, GoQuoting)))
    return out


def _export_tests(prompt: Any, lost: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    raw_default = mapping(prompt.raw.get("defaultTest"))
    evaluators: list[dict[str, Any]] = []
    used_names: set[str] = set()

    def evaluator(assertion: dict[str, Any], value: str | None = None) -> dict[str, Any] | None:
        found = _evaluator_of(assertion)
        if found is None:
            lost(f"assertion {assertion.get('type')!r} not exported: gh models has string (contains, startsWith, endsWith, equals) and built-in evaluators")
            return None
        kind, literal = found
        label = str(assertion.get("metric") or f"{kind} {len(evaluators) + 1}")
        while label in used_names:
            label += "'"
        used_names.add(label)
        if kind == "uses":
            return {"name": label, "uses": literal}
        return {"name": label, "string": {kind: value if value is not None else literal}}

    for assertion in raw_default.get("assert") or []:
        if isinstance(assertion, dict) and (made := evaluator(assertion)) is not None:
            evaluators.append(made)
    tests = [t for t in (prompt.raw.get("tests") if isinstance(prompt.raw.get("tests"), list) else []) if isinstance(t, dict)]
    # gh models has no defaults: a row without a key sends the literal `{{key}}`. Each row
    # carries the inputs' defaults, as the workbench renders them.
    defaults = {spec.name: spec.default for spec in prompt.inputs if spec.has_default}
    if defaults and not tests:
        lost(f"the default of {', '.join(f'`{n}`' for n in defaults)} is not exported: gh models has no defaults, and no test row carries it")
    default_vars = mapping(raw_default.get("vars"))
    rows: list[dict[str, Any]] = [{**default_vars, **(t.get("vars") or {}), **(t.get("metadata") or {})} for t in tests]
    for row in rows:
        row.update((name, value) for name, value in defaults.items() if name not in row)
    shapes = [[(a.get("type"), a.get("transform"), a.get("metric")) for a in t.get("assert") or [] if isinstance(a, dict)] for t in tests]
    if tests and any(shapes) and all(s == shapes[0] for s in shapes):
        # The same checks in every test with their own values: one evaluator reading a row key each.
        for position, _shape in enumerate(shapes[0]):
            assertions = [t["assert"][position] for t in tests]
            found = [_evaluator_of(a) for a in assertions]
            if any(f is None for f in found):
                lost(f"assertion {assertions[0].get('type')!r} not exported: gh models has string (contains, startsWith, endsWith, equals) and built-in evaluators")
                continue
            values = [f[1] for f in found if f is not None]
            kind = found[0][0] if found[0] else ""
            if kind == "uses":
                rubric = BUILTIN_RUBRICS[values[0]]
                if "{expected}" in rubric:
                    prefix, _, suffix = rubric.partition("{expected}")
                    for row, a in zip(rows, assertions, strict=True):
                        text = str(a.get("value", ""))
                        row["expected"] = text[len(prefix) : len(text) - len(suffix) or None]
                made = evaluator(assertions[0])
            elif len(set(values)) == 1:
                made = evaluator(assertions[0])
            else:
                key = f"{kind}_{position + 1}"
                for row, value in zip(rows, values, strict=True):
                    row[key] = value
                made = evaluator(assertions[0], "{{" + key + "}}")
            if made is not None:
                evaluators.append(made)
    elif any(shapes):
        lost("per-test assertions not exported: gh models applies the same evaluators to every row (the tests check different things)")
    for test in tests:
        if test.get("threshold") is not None or test.get("options"):
            lost(f"test {test.get('description')!r}: threshold and options not exported")
    return rows, evaluators


__all__ = ["convert", "escape_literal", "export"]
