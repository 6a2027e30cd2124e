"""promptfoo tests into workbench tests: inline, file:// YAML/JSON/CSV (with __expected columns), defaultTest, vars matrices, assertions with thresholds, weights and metrics."""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import json
import math
import posixpath
import re
from typing import Any

from workbench.core.assertion_types import ASSERTION_TYPES, UNSUPPORTED_PROMPTFOO_TYPES, is_unsupported
from workbench.core.formats.promptfoo_state import ConversionState, read_reference
from workbench.core.formats.templating import js_numbers
from workbench.core.jsvalues import js_trim, stringify
from workbench.core.model import Problem, Severity
from workbench.core.yamlpos import DEFAULT_LIMITS, YamlDocument, YamlSyntaxError, parse_yaml


def convert_assertion(state: ConversionState, raw: Any, where: tuple[Any, ...], file: str, doc: YamlDocument | None) -> dict[str, Any] | None:
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
        children = [c for i, item in enumerate(raw.get("assert") or []) if (c := convert_assertion(state, item, (*where, "assert", i), file, doc)) is not None]
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


def assertion_options(state: ConversionState, raw: Any, where: tuple[Any, ...], lost_file: str | None = None) -> dict[str, Any]:
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
            from_values = csv_values(value)
        return {"type": full, "value": from_values}
    if kind in ("contains-json", "is-json"):
        return {"type": full, "value": value} if value is not None else {"type": full}
    out: dict[str, Any] = {"type": full}
    if value is not None:
        out["value"] = value.strip()
    if kind in ("cost", "latency", "levenshtein", "perplexity-score", "perplexity", "rouge-n", "similar", "starts-with", "answer-relevance", "classifier", "context-faithfulness", "context-recall", "context-relevance"):
        out["threshold"] = float(threshold_text) if threshold_text else (0.8 if kind == "similar" else 0.75)
    return out


def csv_values(value: str) -> list[str]:
    from workbench.core.csvvalues import parse_comma_separated

    return parse_comma_separated(value)


def csv_tests(state: ConversionState, text: str, where: tuple[Any, ...], name: str) -> list[dict[str, Any]]:
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
            converted = convert_assertion(state, assertion, where, name, None)
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


def test_entries(state: ConversionState, raw: Any, where: tuple[Any, ...]) -> list[tuple[dict[str, Any], str, YamlDocument | None, tuple[Any, ...]]]:
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
        text = read_reference(state, relative, item_where)
        if text is None:
            continue
        extension = posixpath.splitext(relative)[1].lower()
        if extension == ".csv":
            out.extend((t, relative, None, ()) for t in csv_tests(state, text, item_where, relative))
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


# Cases one import may expand to: a prompt file holds 1 MiB, so more could never be written, and a
# 2 KB config of four 60-value vars expanded to 12,960,000 cases (2.3 GB) before saying so.
MAX_CASES = 10_000
# Characters the `file://` vars of one import may bring in: what a prompt file holds (1 MiB). Each
# was read whole and inlined: a config naming a 4 MiB file 20 times wrote a 167 MB prompt.
MAX_VAR_TEXT = 1 << 20
_SCRIPT_SUFFIXES = (".js", ".cjs", ".mjs", ".ts", ".cts", ".mts", ".py")
_BINARY_SUFFIXES = (".pdf", ".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp", ".tif", ".tiff", ".ico", ".avif", ".heic", ".svg", ".mp4", ".webm", ".mov", ".mp3", ".wav", ".ogg", ".flac", ".m4a")


def load_var_files(state: ConversionState, variables: dict[str, Any], where: tuple[Any, ...]) -> dict[str, Any]:
    """Whole numbers as ints (`js_numbers`), and each `file://` var value (also inside an array
    of values) as promptfoo's `renderPrompt` reads it: a text file trimmed, a `.yaml` / `.yml` file as the JSON text of its data; a script
    (`.py`, `.js`: promptfoo runs it for the value) or a PDF, image or media file is reported and
    left as it is."""

    def load(value: Any, at: tuple[Any, ...]) -> Any:
        if not (isinstance(value, str) and value.startswith("file://")):
            return js_numbers(value)
        suffix = posixpath.splitext(value.lower())[1]
        if suffix in _SCRIPT_SUFFIXES or suffix in _BINARY_SUFFIXES:
            kind = "a script promptfoo runs for the value" if suffix in _SCRIPT_SUFFIXES else "a file promptfoo sends as text or base64"
            state.lost(at, f"the var {value} ({kind}) is not carried over: the value stays the text {value!r}", hint="put the value itself in vars")
            return value
        if state.var_text > MAX_VAR_TEXT:  # said once, at the file that passed the limit
            return value
        text = read_reference(state, value, at)
        if text is None:
            return value
        state.var_text += len(text)
        if state.var_text > MAX_VAR_TEXT:
            pos = state.doc.where(at)
            state.problems.append(
                Problem(state.source.path, pos.line, pos.col, f"the var files up to {value} hold over 1 MiB, more than a prompt file holds: none after it is read", Severity.ERROR, "put the text in fewer, smaller files")
            )
            return value
        if suffix in (".yaml", ".yml"):
            try:
                return stringify(parse_yaml(text).value)
            except YamlSyntaxError as err:
                state.lost(at, f"cannot read {value}: {err.message}")
                return value
        return js_trim(text)

    return {
        name: [load(item, (*where, name, i)) for i, item in enumerate(value)] if isinstance(value, list) else load(value, (*where, name))
        for name, value in variables.items()
    }


def combinations(variables: dict[str, Any]) -> int:
    """How many tests promptfoo runs for these vars: one per combination of array values."""
    return math.prod(len(v) for v in variables.values() if isinstance(v, list))


def cases_chars(variables: dict[str, Any]) -> int:
    """How many characters the vars of all the expanded cases write, computed before expanding:
    every case repeats the vars that are not arrays, and each value of an array appears in as
    many cases as the other arrays make combinations."""
    def size(value: Any) -> int:
        return len(json.dumps(value, ensure_ascii=False, default=str))

    arrays = [v for v in variables.values() if isinstance(v, list)]
    count = math.prod(len(v) for v in arrays)
    fixed = size({k: v for k, v in variables.items() if not isinstance(v, list)})
    return count * fixed + sum(sum(map(size, v)) * (count // len(v)) for v in arrays if v)


def expand_vars(variables: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
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


def convert_test(state: ConversionState, test: dict[str, Any], file: str, doc: YamlDocument | None, where: tuple[Any, ...]) -> list[dict[str, Any]]:
    out: dict[str, Any] = {}
    for key, value in test.items():
        sub = (*where, key)
        if key in ("description", "threshold", "metadata"):
            out[key] = value
        elif key == "vars":
            if isinstance(value, dict):
                out["vars"] = dict(value)
            elif isinstance(value, str) and value.startswith("file://"):
                text = read_reference(state, value, sub)
                if text is not None:
                    import yaml

                    loaded = yaml.safe_load(text)
                    out["vars"] = dict(loaded) if isinstance(loaded, dict) else {}
        elif key == "assert":
            asserts = [a for i, item in enumerate(value or []) if (a := convert_assertion(state, item, (*where, "assert", i), file, doc)) is not None]
            out["assert"] = asserts
        elif key == "options":
            options = assertion_options(state, value, sub) if file == state.source.path else assertion_options(state, value, sub, lost_file=file)
            if options:
                out["options"] = options
        else:
            if file == state.source.path:
                state.lost(sub, f"test field `{key}` not carried over")
            else:
                pos = doc.where(sub) if doc is not None else None
                state.lost(sub, f"test field `{key}` not carried over", file=file, line=pos.line if pos else 1, col=pos.col if pos else 1)
    if isinstance(out.get("vars"), dict):
        out["vars"] = load_var_files(state, out["vars"], (*where, "vars"))
    count = combinations(out.get("vars") or {})
    chars = cases_chars(out.get("vars") or {})
    refused = None
    if state.cases + count > MAX_CASES:
        refused = f"these vars expand to {count:,} cases, over the {MAX_CASES:,} one import takes"
    elif state.case_text + chars > DEFAULT_LIMITS.max_chars:
        # Checked before expanding: a 200 KB value beside two 50-value arrays wrote 500 MB.
        refused = f"these vars expand to {count:,} cases, {chars:,} characters of vars in all, over the {DEFAULT_LIMITS.max_chars:,} a prompt file holds"
    if refused is not None:
        pos = doc.where((*where, "vars"), key=True) if doc is not None else None
        state.problems.append(Problem(file, pos.line if pos else 1, pos.col if pos else 1, refused, Severity.ERROR, "split the arrays over several tests or files"))
        return []
    state.cases += count
    state.case_text += chars
    expanded = []
    for variables, suffix in expand_vars(out.get("vars") or {}):
        copy = dict(out)
        if "vars" in out or variables:
            copy["vars"] = variables
        if suffix:
            copy["description"] = f"{out.get('description', 'case')} [{suffix}]"
        expanded.append(copy)
    return expanded
