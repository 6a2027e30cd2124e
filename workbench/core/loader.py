"""Load a prompt file: YAML with positions, the JSON Schema, then the checks a schema cannot do.

`load_prompt` never raises: malformed input of any kind becomes `Problem`s, all of them at
once, each at the exact line and column of the node concerned. It reads nothing itself;
a `read_file` callback fetches referenced test files, so the same code loads a prompt from
the working copy or from any Git revision.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from workbench.core.model import (
    PROMPTS_DIR,
    Assertion,
    InputSpec,
    LoadResult,
    Message,
    ModelSpec,
    Problem,
    Prompt,
    Severity,
    TestCase,
    prompt_name_from_path,
)
from workbench.core.names import UnsafePath, prompt_name_problem, resolve_reference
from workbench.core.safe_text import clean
from workbench.core.schema import field_path, schema_problems
from workbench.core.templates import JINJA_RESERVED_NAMES, check_templates
from workbench.core.tools import tool_definitions, tool_problems
from workbench.core.yamlpos import Path, Position, YamlDocument, YamlSyntaxError, parse_yaml

ReadFile = Callable[[str], str]
INPUT_TYPES = ("string", "number", "integer", "boolean", "array", "object")


def value_matches_type(value: Any, type_name: str) -> bool:
    """Whether `value` fits a declared input type (a bool is not a number)."""
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if type_name == "boolean":
        return isinstance(value, bool)
    if type_name == "array":
        return isinstance(value, list)
    if type_name == "object":
        return isinstance(value, dict)
    return True


def load_prompt(text: str, path: str, *, read_file: ReadFile | None = None, schema_passed: bool = False) -> LoadResult:
    """Parse and validate one prompt file. Never raises.

    Args:
        text: the file's content.
        path: its repository-relative path (`prompts/support/summarize.yaml`), used in
            problems and to derive the prompt's name.
        read_file: reads another repository file by relative path (tests files, partials), at
            the same revision as `text`.
        schema_passed: this exact text is known to pass the JSON Schema (a signed verdict of
            `services.parse_cache`): its check, and the import of jsonschema, are skipped.
    """
    try:
        return _load(text, path, read_file, schema_passed)
    except RecursionError:
        return LoadResult(path, None, (Problem(path, 1, 1, "file is nested too deeply to load"),))
    except Exception as err:  # a bug must not take the caller down: report it as a problem
        return LoadResult(path, None, (Problem(path, 1, 1, f"internal error while loading: {type(err).__name__}: {err}"),))


def _load(text: str, path: str, read_file: ReadFile | None, schema_passed: bool = False) -> LoadResult:
    problems: list[Problem] = []
    try:
        doc = parse_yaml(text)
    except YamlSyntaxError as err:
        return LoadResult(path, None, (Problem(path, err.line, err.col, err.message),))
    for dup_path, pos, first in doc.duplicates:
        problems.append(Problem(path, pos.line, pos.col, f"duplicate key '{dup_path[-1]}' (first defined at line {first.line})", Severity.ERROR, "remove one of them: YAML would silently keep the last"))
    if doc.value is None:
        return LoadResult(path, None, (*problems, Problem(path, 1, 1, "file is empty", Severity.ERROR, "a prompt needs at least `messages:` or `template:`")))
    if not isinstance(doc.value, dict):
        return LoadResult(path, None, (*problems, Problem(path, 1, 1, "a prompt file must be a YAML mapping (key: value)")))
    name = prompt_name_from_path(path)
    if path.startswith(PROMPTS_DIR + "/"):
        name_problem = prompt_name_problem(name)
        if name_problem is not None:
            problems.append(Problem(path, 1, 1, f"invalid prompt name '{clean(name)}': {name_problem}", Severity.ERROR, "rename the file (a name is its path under prompts/)"))
    if not schema_passed:  # a text that passed had no non-finite number either (same code: same key)
        problems.extend(schema_problems(doc, path, "prompt"))
        problems.extend(_non_finite_numbers(doc, path))
    data: dict[str, Any] = doc.value
    declared_name = data.get("name")
    if isinstance(declared_name, str) and declared_name != name:
        pos = doc.where(("name",))
        problems.append(Problem(path, pos.line, pos.col, f"name '{declared_name}' does not match the file's path ('{name}')", Severity.ERROR, "prompts are addressed by their path: remove `name` or move the file"))
    has_messages, has_template = "messages" in data, "template" in data
    if has_messages and has_template:
        pos = doc.where(("template",), key=True)
        problems.append(Problem(path, pos.line, pos.col, "a prompt has either `messages` (chat) or `template` (completion), not both"))
    elif not has_messages and not has_template:
        problems.append(Problem(path, 1, 1, "missing `messages` (chat) or `template` (completion)", Severity.ERROR, "add messages: [{role: user, content: ...}]"))
    inputs = _inputs(data.get("inputs"), doc, path, problems)
    template_findings, partials = check_templates(data, doc, path, inputs, read_file)
    problems.extend(template_findings)
    problems.extend(tool_problems(data, doc, path))
    tests = _tests(data, doc, path, inputs, read_file, problems, schema_passed)
    problems.sort(key=lambda p: (p.path != path, p.path, p.line, p.col))
    if any(p.severity is Severity.ERROR for p in problems):
        return LoadResult(path, None, tuple(problems))
    model = data.get("model") or {}
    tools, tool_choice, response_format = tool_definitions(data)
    prompt = Prompt(
        name=name,
        path=path,
        description=data.get("description"),
        owner=data.get("owner"),
        tags=tuple(data.get("tags") or ()),
        model=ModelSpec(
            provider=model.get("provider"),
            name=model.get("name"),
            base_url=model.get("base_url"),
            api_key_env=model.get("api_key_env"),
            parameters=dict(model.get("parameters") or {}),
        ),
        inputs=tuple(inputs.values()),
        messages=tuple(Message(m["role"], m["content"]) for m in data.get("messages") or ()),
        template=data.get("template"),
        tests=tuple(tests),
        tools=tools,
        tool_choice=tool_choice,
        response_format=response_format,
        partials=partials,
        raw=data,
        source=text,
    )
    return LoadResult(path, prompt, tuple(problems))


def _inputs(raw: Any, doc: YamlDocument, path: str, problems: list[Problem]) -> dict[str, InputSpec]:
    specs: dict[str, InputSpec] = {}
    if not isinstance(raw, dict):
        return specs
    for key, spec in raw.items():
        if not isinstance(key, str):  # `1:`, `null:`, `true:` (the schema's name rule sees text keys only)
            pos = doc.where(("inputs", key))
            problems.append(Problem(path, pos.line, pos.col, f"input name {key} is not text (YAML reads it as a {type(key).__name__})", Severity.ERROR, "names are letters, digits and _, not starting with a digit"))
            continue
        if key in JINJA_RESERVED_NAMES:
            pos = doc.where(("inputs", key), key=True)
            problems.append(Problem(path, pos.line, pos.col, f"input name '{key}' is reserved by Jinja: a template never sees the value passed", Severity.ERROR, "rename it: Jinja binds `self` to the template itself"))
        if not isinstance(spec, dict):
            spec = {}
        type_name = spec.get("type", "string")
        if type_name not in INPUT_TYPES:
            type_name = "string"
        enum = spec.get("enum")
        has_default = "default" in spec
        default = spec.get("default")
        if has_default and default is not None and not value_matches_type(default, type_name):
            pos = doc.where(("inputs", key, "default"))
            problems.append(Problem(path, pos.line, pos.col, f"default of input '{key}' is not {'an' if type_name[0] in 'aeiou' else 'a'} {type_name}"))
        if has_default and isinstance(enum, list) and default not in enum:
            pos = doc.where(("inputs", key, "default"))
            problems.append(Problem(path, pos.line, pos.col, f"default of input '{key}' is not one of its enum values"))
        specs[str(key)] = InputSpec(
            name=str(key),
            type=type_name,
            required=bool(spec.get("required", False)) and not has_default,
            default=default,
            has_default=has_default,
            description=spec.get("description"),
            enum=tuple(enum) if isinstance(enum, list) else None,
        )
    return specs


def _assertions(raw: Any, base: Path, doc: YamlDocument, problems: list[Problem] | None = None, file: str = "") -> list[Assertion]:
    out = []
    for index, item in enumerate(raw if isinstance(raw, list) else ()):
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            continue
        weight = item.get("weight", 1.0)
        threshold = item.get("threshold")
        transform = item.get("transform")
        assertion = Assertion(
            type=item["type"],
            value=item.get("value"),
            threshold=float(threshold) if isinstance(threshold, (int, float)) and not isinstance(threshold, bool) else None,
            weight=float(weight) if isinstance(weight, (int, float)) and not isinstance(weight, bool) else 1.0,
            metric=item.get("metric"),
            provider=item.get("provider"),
            line=doc.where((*base, index)).line,
            transform=transform if isinstance(transform, str) else None,
            children=tuple(_assertions(item.get("assert"), (*base, index, "assert"), doc, problems, file)) if item["type"] == "assert-set" else (),
        )
        if problems is not None:
            problems.extend(assertion_problems(assertion, doc, (*base, index), file))
        out.append(assertion)
    return out


def assertion_problems(assertion: Assertion, doc: YamlDocument, where: Path, file: str) -> list[Problem]:
    """What promptfoo would refuse at run time, caught at `validate` (each with its position)."""
    from workbench.core.jsvalues import JsRegexError, check_regex

    out: list[Problem] = []
    kind = assertion.base_type
    value = assertion.value

    def at(field: str | None, message: str, hint: str | None = None) -> None:
        pos = doc.where((*where, field) if field else where)
        out.append(Problem(file, pos.line, pos.col, message, Severity.ERROR, hint))

    templated = isinstance(value, str) and ("{{" in value or "{%" in value)
    if kind == "regex" and isinstance(value, str) and value and not templated:
        try:
            check_regex(value)
        except JsRegexError as err:
            at("value", f"regex is not a valid JavaScript regular expression: {err}", "promptfoo patterns are JavaScript's: no (?i) or (?P<name>), use (?<name>...)")
    if kind in ("latency", "cost") and assertion.threshold is None:
        at(None, f"a {kind} assertion needs a threshold", "add threshold: (milliseconds for latency, USD for cost)")
    if kind in ("contains", "icontains", "starts-with", "regex", "levenshtein", "rouge-n") and (value is None or value == ""):
        at(None, f"a {kind} assertion needs a value")
    if assertion.type == "assert-set" and not assertion.children:
        at(None, "an assert-set needs an `assert:` list")
    return out


def _tests(
    data: Mapping[str, Any],
    doc: YamlDocument,
    path: str,
    inputs: Mapping[str, InputSpec],
    read_file: ReadFile | None,
    problems: list[Problem],
    schema_passed: bool = False,
) -> list[TestCase]:
    """Test cases with `defaultTest` merged in (promptfoo: its asserts first, test vars win)."""
    default: dict[str, Any] = data["defaultTest"] if isinstance(data.get("defaultTest"), dict) else {}
    default_vars: dict[str, Any] = default["vars"] if isinstance(default.get("vars"), dict) else {}
    default_asserts = _assertions(default.get("assert"), ("defaultTest", "assert"), doc, problems, path)
    default_options = default["options"] if isinstance(default.get("options"), dict) else {}
    default_threshold = default.get("threshold")
    # (case dict, its document, its file, its path in that document)
    raw_cases: list[tuple[dict[str, Any], YamlDocument, str, Path]] = []
    raw = data.get("tests")
    entries: list[tuple[Any, Path]] = [(raw, ("tests",))] if isinstance(raw, str) else [(item, ("tests", i)) for i, item in enumerate(raw or []) if isinstance(raw, list)]
    for entry, entry_path in entries:
        if isinstance(entry, dict):
            raw_cases.append((entry, doc, path, entry_path))
        elif isinstance(entry, str) and entry.startswith("file://"):
            raw_cases.extend(_external_tests(entry, entry_path, doc, path, read_file, problems, schema_passed))
    cases = []
    for index, (case, case_doc, case_file, case_path) in enumerate(raw_cases):
        case_vars: dict[str, Any] = case["vars"] if isinstance(case.get("vars"), dict) else {}
        variables = {**default_vars, **case_vars}
        pos = case_doc.where(case_path)
        description = str(case["description"]) if isinstance(case.get("description"), str) else f"case {index + 1}"
        for spec in inputs.values():
            if spec.required and spec.name not in variables:
                problems.append(Problem(case_file, pos.line, pos.col, f"test '{description}' does not set required input '{spec.name}'", Severity.ERROR, f"add it under vars: or give '{spec.name}' a default"))
        for var in variables:
            if inputs and var not in inputs:
                var_pos = case_doc.where((*case_path, "vars", var), key=True)
                problems.append(Problem(case_file, var_pos.line, var_pos.col, f"test '{description}' sets '{var}', which is not an input of this prompt", Severity.WARNING))
        threshold = case.get("threshold", default_threshold)
        options = {**default_options, **(case["options"] if isinstance(case.get("options"), dict) else {})}
        transform = options.get("transform", options.get("postprocess"))
        cases.append(
            TestCase(
                description=description,
                vars=variables,
                asserts=(*default_asserts, *_assertions(case.get("assert"), (*case_path, "assert"), case_doc, problems, case_file)),
                threshold=float(threshold) if isinstance(threshold, (int, float)) and not isinstance(threshold, bool) else None,
                index=index,
                line=pos.line,
                transform=transform if isinstance(transform, str) else None,
            )
        )
    seen: dict[str, int] = {}
    for test in cases:
        if test.description in seen:
            problems.append(Problem(path, test.line, 1, f"two tests are named '{test.description}' (first at line {seen[test.description]})", Severity.WARNING, "results are paired across versions by description: make them unique"))
        seen.setdefault(test.description, test.line)
    return cases


def _external_tests(
    ref: str, ref_path: Path, doc: YamlDocument, path: str, read_file: ReadFile | None, problems: list[Problem], schema_passed: bool = False
) -> list[tuple[dict[str, Any], YamlDocument, str, Path]]:
    pos: Position = doc.where(ref_path)
    relative = ref[len("file://") :]
    try:
        target = resolve_reference(ref, path)
    except UnsafePath as err:
        problems.append(Problem(path, pos.line, pos.col, f"tests file {clean(relative)}: {err.reason}", Severity.ERROR, "reference a file under prompts/ relative to this prompt, e.g. file://cases.tests.yaml"))
        return []
    if read_file is None:
        problems.append(Problem(path, pos.line, pos.col, f"cannot read tests file {relative} here"))
        return []
    try:
        text = read_file(target)
    except UnicodeDecodeError:
        problems.append(Problem(path, pos.line, pos.col, f"tests file {clean(relative)} is not UTF-8 text"))
        return []
    except ValueError as err:  # refused by the reader (e.g. a link to a file outside prompts/)
        problems.append(Problem(path, pos.line, pos.col, f"tests file {clean(relative)}: {clean(err)}"))
        return []
    except (OSError, KeyError, LookupError) as err:
        problems.append(Problem(path, pos.line, pos.col, f"tests file {relative} not found ({target})", Severity.ERROR, str(err) if str(err) else None))
        return []
    except Exception as err:
        problems.append(Problem(path, pos.line, pos.col, f"cannot read tests file {relative}: {err}"))
        return []
    try:
        tests_doc = parse_yaml(text)
    except YamlSyntaxError as err:
        problems.append(Problem(target, err.line, err.col, err.message))
        return []
    if not isinstance(tests_doc.value, list):
        problems.append(Problem(target, 1, 1, "a tests file must be a YAML list of test cases"))
        return []
    wrapper = YamlDocument({"tests": tests_doc.value})
    wrapper.positions = {("tests", *k): v for k, v in tests_doc.positions.items()}
    wrapper.key_positions = {("tests", *k): v for k, v in tests_doc.key_positions.items()}
    for dup_path, dup_pos, first in tests_doc.duplicates:
        problems.append(Problem(target, dup_pos.line, dup_pos.col, f"duplicate key '{dup_path[-1]}' (first defined at line {first.line})"))
    # The prompt schema judges the list as if it were this file's `tests:` value.
    if not schema_passed:
        problems.extend(schema_problems(_as_tests_document(wrapper), target, "prompt"))
        problems.extend(_non_finite_numbers(tests_doc, target))
    return [(case, wrapper, target, ("tests", i)) for i, case in enumerate(tests_doc.value) if isinstance(case, dict)]


def _non_finite_numbers(doc: YamlDocument, path: str) -> list[Problem]:
    """`.nan` and `.inf` wherever they are: JSON has neither, so a request body or a report
    holding one is unreadable (`"weight": NaN`)."""
    found: list[Problem] = []
    stack: list[tuple[tuple[Any, ...], Any]] = [((), doc.value)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, float) and not math.isfinite(value):
            pos = doc.where(where)
            found.append(Problem(path, pos.line, pos.col, f"{field_path(where)}: {value} is not a finite number", Severity.ERROR, "JSON (requests, reports) has no NaN or infinity: write a number"))
        elif isinstance(value, dict):
            stack.extend(((*where, key), item) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend(((*where, index), item) for index, item in enumerate(value))
    return found


def _as_tests_document(wrapper: YamlDocument) -> YamlDocument:
    """The wrapper plus a dummy template, so only the tests are judged by the schema."""
    doc = YamlDocument({"template": "", "tests": wrapper.value["tests"]})
    doc.positions = wrapper.positions
    doc.key_positions = wrapper.key_positions
    return doc
