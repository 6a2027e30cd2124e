"""`workbench import prompty` of mustache files (`template: mustache`, `template: {format: mustache}`):
the messages rendered are the ones Prompty's own pipeline builds (`prompty` 2.1.0: the chevron
renderer, then its role-marker parser), on Prompty's sample files, on Prompty's conformance
vectors and on a corpus of mustache cases; a hostile template ends with a clear error."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path
from typing import Any

import pytest
from format_helpers import FIXTURES, cli, errors, import_into, load, messages, new_repo

from workbench.core.render import render_prompt
from workbench.errors import RenderError

MUSTACHE = FIXTURES / "prompty_mustache"
V2 = "template:\n  format: mustache\n  parser: prompty\n"
KINDS = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array", dict: "object"}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return new_repo(tmp_path / "repo")


def body_of(path: Path) -> str:
    """The body as Prompty reads it (its own front-matter split)."""
    from prompty.core.utils import load_prompty

    data = load_prompty(path)
    return str(data["instructions"] if isinstance(data, dict) else data)


def prompty_sends(body: str, variables: dict[str, Any]) -> list[dict[str, str]]:
    """What Prompty 2.1.0 sends for a mustache body: `prepare` (strict pre-render, chevron, parser)."""
    import prompty
    from prompty.model import Agent

    agent = Agent.load({"name": "t", "instructions": body, "template": {"format": {"kind": "mustache"}, "parser": {"kind": "prompty"}}})
    return [{"role": m.role, "content": m.text} for m in prompty.prepare(agent, variables)]


def write_prompty(folder: Path, name: str, body: str, data: dict[str, Any], template: str = V2) -> Path:
    """A Prompty 2 file declaring each value of `data` as an input of its kind."""
    inputs = "".join(f"  - name: {key}\n    kind: {KINDS.get(type(value), 'string')}\n" for key, value in data.items())
    path = folder / f"{name}.prompty"
    path.write_text(f"---\nname: {name}\nmodel: gpt-4o\n{'inputs:' + chr(10) + inputs if inputs else ''}{template}---\n{body}", encoding="utf-8")
    return path


def workbench_sends(repo: Path, name: str, data: dict[str, Any]) -> list[dict[str, str]]:
    declared = {spec.name for spec in load(repo, f"x/{name}").inputs}
    return messages(repo, f"x/{name}", {key: value for key, value in data.items() if key in declared})


# ------------------------------------------------------------------ Prompty's own files
SAMPLES = {
    "basic_mustache": {"firstName": "Jane <b>", "lastName": "O'Hara & Sons", "question": 'What is "it"?', "query": "SELECT 1 < 2"},
    "mustache_partial": {"firstName": "John", "lastName": "Doe", "question": "What is your name?"},
    "basic_mustache_cs": {"firstName": "Jane", "lastName": "Doe", "question": "What is the meaning of life? <3"},
}


@pytest.mark.parametrize("stem", sorted(SAMPLES))
def test_prompty_samples_render_what_prompty_sends(stem: str, repo: Path) -> None:
    report = import_into(repo, "prompty", MUSTACHE / f"{stem}.prompty")
    assert errors(report) == [] and report.written == [f"prompts/x/{stem}.yaml"]
    variables = SAMPLES[stem]
    sent = prompty_sends(body_of(MUSTACHE / f"{stem}.prompty"), variables)
    assert workbench_sends(repo, stem, variables) == sent
    assert "&lt;" in json.dumps(sent) or "&amp;" in json.dumps(sent) or stem == "mustache_partial"  # escaped, as Prompty does
    assert not [p for p in report.problems if "read as Jinja2" in p.message]


def test_a_partial_renders_nothing_and_says_why(repo: Path) -> None:
    """chevron reads `{{> name}}` from NAME.mustache in the working directory of whatever renders
    the file (and renders nothing without it): the workbench reads no file, renders nothing."""
    report = import_into(repo, "prompty", MUSTACHE / "mustache_partial.prompty")
    found = [p for p in report.problems if "attempt_partial" in p.message]
    assert len(found) == 1 and found[0].line == 31 and "renders nothing" in found[0].message, [p.format() for p in report.problems]


def test_a_section_that_writes_role_markers_is_reported(repo: Path) -> None:
    """promptyjs's Contoso sample writes `{{type}}:` lines from a list: Prompty 1 and promptyjs split
    them into messages; Prompty 2 refuses the render in its default strict mode. A workbench prompt
    has fixed messages: the lines stay text, and the import says so."""
    import prompty

    path = MUSTACHE / "contoso_sales_js.prompty"
    report = import_into(repo, "prompty", path)
    assert errors(report) == []
    found = [p for p in report.problems if "role marker" in p.message]
    assert found and found[0].line == 44, [p.format() for p in report.problems]
    history = [{"type": "assistant", "content": "content 1"}, {"type": "user", "content": "user content 1"}]
    variables = {"firstName": "Seth", "context": "ctx", "question": "Q?", "chat_history": history}
    with pytest.raises(ValueError, match="Nonce mismatch"):
        prompty_sends(body_of(path), variables)
    sent = workbench_sends(repo, "contoso_sales_js", variables)
    assert [m["role"] for m in sent] == ["system", "user"] and "assistant:\ncontent 1\nuser:\nuser content 1" in sent[0]["content"]
    assert prompty.__version__ == "2.1.0"


# ------------------------------------------------------------------ Prompty's conformance vectors (schema/model/conformance/vectors/render.tsp)
VECTORS = [
    ("mustache_simple", "Hello {{name}}!", {"name": "World"}, "Hello World!"),
    ("mustache_section", "{{#show}}Visible{{/show}}", {"show": True}, "Visible"),
    ("mustache_inverted", "{{^show}}Hidden{{/show}}", {"show": False}, "Hidden"),
    ("mustache_loop", "{{#items}}{{.}} {{/items}}", {"items": ["a", "b", "c"]}, "a b c "),
]


@pytest.mark.parametrize(("name", "template", "data", "expected"), VECTORS, ids=[v[0] for v in VECTORS])
def test_prompty_conformance_vectors(name: str, template: str, data: dict[str, Any], expected: str, repo: Path, tmp_path: Path) -> None:
    import_into(repo, "prompty", write_prompty(tmp_path, name, f"user:\n{template}", data))
    assert workbench_sends(repo, name, data) == [{"role": "user", "content": expected.strip("\n")}]


# ------------------------------------------------------------------ a corpus against Prompty (chevron)
CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("escaping", "{{x}}|{{{x}}}|{{&x}}|{{ x }}", {"x": "<a href=\"u\">&'"}),
    ("literal_text", "Tom & Jerry <3 {{x}} {% raw %} {# no #}", {"x": "&"}),
    ("falsy_values", "[{{a}}|{{b}}|{{c}}|{{d}}|{{e}}|{{f}}|{{g}}|{{h}}]", {"a": 0, "b": False, "c": None, "d": "", "e": [], "f": 0.0, "g": 1.5, "h": True}),
    ("containers", "{{l}} / {{d}} / {{{l}}}", {"l": [1, "a", None], "d": {"k": "v<"}}),
    ("list_of_strings", "{{#items}}- {{.}}\n{{/items}}", {"items": ["a", "<b>", "", "c"]}),
    ("list_of_objects", "{{#people}}{{name}} ({{role}}) {{/people}}", {"people": [{"name": "A", "role": "x"}, {"name": "B"}], "role": "default"}),
    ("object_section", "{{#person}}{{name}} is {{age}}{{/person}}", {"person": {"name": "Al", "age": 3}}),
    ("scalar_section", "{{#name}}Hi {{name}}!{{/name}}{{^name}}nobody{{/name}}", {"name": "Jo"}),
    ("empty_scalar_section", "{{#name}}Hi {{name}}!{{/name}}{{^name}}nobody{{/name}}", {"name": ""}),
    ("flags_and_numbers", "{{#flag}}on{{/flag}}{{^flag}}off{{/flag}} {{#n}}n={{n}}{{/n}}{{^n}}zero{{/n}}", {"flag": True, "n": 0}),
    ("flags_and_numbers_2", "{{#flag}}on{{/flag}}{{^flag}}off{{/flag}} {{#n}}n={{n}}{{/n}}{{^n}}zero{{/n}}", {"flag": False, "n": 5}),
    ("inverted_empty", "{{^items}}none{{/items}}{{#items}}some{{/items}}", {"items": []}),
    ("nested_and_outer", "{{#a}}{{#b}}{{c}}-{{a.x}}-{{x}}-{{d}};{{/b}}{{/a}}", {"a": {"x": "X", "b": [{"c": 1}, {"c": 2, "d": "D"}]}, "d": "top"}),
    ("dotted_and_indexes", "{{user.name}} {{items.0}} {{items.1.k}} {{items.-1.k}} [{{user.missing}}] [{{user.name.first}}] [{{items.9}}]", {"user": {"name": "N"}, "items": ["i0", {"k": "K"}]}),
    ("shadowing_none", "{{#list}}[{{name}}]{{/list}}", {"list": [{"name": None}, {"name": "n"}, {}], "name": "outer"}),
    ("dot_in_inverted", "{{#items}}{{#done}}done: {{.}}{{/done}}{{^done}}todo: {{.}}{{/done}}\n{{/items}}", {"items": ["a", "b"]}),
    ("dot_in_objects", "{{#items}}{{^done}}todo: {{title}}{{/done}}\n{{/items}}", {"items": [{"title": "a", "done": True}, {"title": "b"}]}),
    ("nested_lists", "{{#l}}[{{#.}}{{.}},{{/.}}]{{/l}}", {"l": [[1, 2], [], [0, 3], "s"]}),
    ("set_delimiters", "{{=<% %>=}}<% x %> {{x}} <%={{ }}=%>{{x}}", {"x": "v"}),
    ("standalone_lines", "A\n  {{#s}}\n  in\n  {{/s}}\nB\n{{! a comment }}\n\t{{^s}}\nno\n{{/s}}\nC", {"s": True}),
    ("not_standalone", "a {{#s}}b{{/s}} c\n {{#s}} d\n{{/s}}", {"s": True}),
    ("typo_triple", "a{{{x}}b", {"x": "v"}),
    ("partial", "a {{> p}} b\n  {{> q}}\nc", {}),
    ("whitespace_in_tags", "{{  x  }} {{# s }}y{{/ s }} {{& x }}", {"x": "<", "s": [1, 2]}),
    ("missing", "[{{nothing}}] [{{#nothing}}x{{/nothing}}] [{{^nothing}}y{{/nothing}}] [{{nothing.at.all}}]", {}),
    ("section_in_falsy_item", "{{#rows}}<{{#cells}}{{.}}{{/cells}}>{{/rows}}", {"rows": [{"cells": [1, 2]}, {}, {"cells": []}], "cells": ["outer"]}),
    ("unicode", "{{a}} — {{#b}}{{.}}·{{/b}}", {"a": "naïve ☃ <é>", "b": ["α", "β"]}),
]


@pytest.mark.parametrize(("name", "template", "data"), CASES, ids=[c[0] for c in CASES])
def test_mustache_renders_as_prompty(name: str, template: str, data: dict[str, Any], repo: Path, tmp_path: Path) -> None:
    body = f"system:\nBEGIN\n{template}\nEND\nuser:\n{template}"
    report = import_into(repo, "prompty", write_prompty(tmp_path, name, body, data))
    assert errors(report) == [], [p.format() for p in report.problems]
    assert workbench_sends(repo, name, data) == prompty_sends(body, data)


def test_tokens_are_chevrons(tmp_path: Path) -> None:
    """The tokenizer is a port of chevron 0.14's (Prompty's renderer), in linear time: the same
    tokens, standalone lines and errors, on templates written to hit its corners."""
    import chevron.tokenizer

    from workbench.core.formats.mustache import MustacheSyntaxError, tokenize

    templates = [
        "", "x", "{{", "abc{{", "a}}b", "{{a}}", "{{a}}}", "{{{a}}}", "{{{a}}", "{{& a }}", "{{!c}}x", "\n{{!c}}\n",
        "{{#a}}\n{{/a}}\n", "  {{#a}}  \n  x\n  {{/a}}  ", "{{#a}} {{/a}}\n", "x {{#a}}\n{{/a}} y", "\t{{^a}}\n{{/a}}",
        "{{> p}}\n", "  {{> p}}  \n", "{{=<% %>=}}<%a%>\n<%={{ }}=%>{{b}}", "{{=| |=}}|a|{{a}}|={{ }}=|{{c}}",
        "{{= =}}rest {{a}}", "{{=<%%>=}}<%%>a<%%>", "a\r\n{{#b}}\r\n{{/b}}\r\n", "{{#a}}{{#a}}{{/a}}{{/a}}",
        "{{#a}}\n  {{b}}\n{{/a}}", "{{a}}\n{{#b}}\n{{/b}}", "{{{a}}}\n{{#b}}\n", "{{a.b.c}} {{.}}",
    ]
    for template in templates:
        try:
            expected: Any = [token for token in chevron.tokenizer.tokenize(template) if token != ("literal", "")]
        except chevron.tokenizer.ChevronError:
            expected = "error"
        try:
            got: Any = [(token.kind, token.key) for token in tokenize(template) if (token.kind, token.key) != ("literal", "")]
        except MustacheSyntaxError:
            got = "error"
        assert got == expected, template


def _random_template(rng: random.Random, depth: int = 0) -> str:
    names = ["a", "b", "items", "x", "a.b", "items.0", "."]
    out: list[str] = []
    for _ in range(rng.randint(1, 5)):
        pick = rng.random()
        if pick < 0.3:
            out.append(rng.choice(["t", " ", "\n", "  ", "x\n", "\n  ", "&<", "\t"]))
        elif pick < 0.55:
            opening = rng.choice(["", "{", "&"])
            out.append("{{" + opening + rng.choice(names) + "}}" + ("}" if opening == "{" else ""))
        elif pick < 0.85 and depth < 4:
            name, sigil = rng.choice(names), rng.choice("#^")
            out.append(f"{{{{{sigil}{name}}}}}" + rng.choice(["", "\n"]) + _random_template(rng, depth + 1) + rng.choice(["", "\n"]) + f"{{{{/{name}}}}}")
        else:
            out.append("{{! c }}" + rng.choice(["", "\n"]))
    return "".join(out)


def _random_value(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.random()
    if depth > 2 or pick < 0.4:
        return rng.choice(["", "s", "<&>\"'", 0, 1, False, None, 2.5, "0"])  # no True: see the README (chevron's {{.}} swap)
    if pick < 0.7:
        return [_random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {key: _random_value(rng, depth + 1) for key in rng.sample(["a", "b", "x", "items"], rng.randint(0, 3))}


def test_random_templates_render_as_chevron_renders_them() -> None:
    """Random sections, inverted sections, dotted names, `.`, escapes, comments and standalone lines
    over random data: chevron's text (Prompty's renderer) and the converted template's agree.
    Left out: what the README lists where we differ (`{{.}}` meaning the whole input; a `True`
    scope under `{{.}}`; an inverted section inside a list section of the same name)."""
    import chevron

    from workbench.core.formats.mustache import convert_body, tokenize
    from workbench.core.render import render_within, variables_budget
    from workbench.core.templates import environment

    rng = random.Random(20240611)
    compared = 0
    for _ in range(800):
        template = _random_template(rng)
        data = {key: _random_value(rng) for key in ("a", "b", "items", "x")}
        open_keys: list[str] = []
        quirk = False
        for token in tokenize(template):
            quirk = quirk or (token.kind == "inverted section" and token.key in open_keys)
            if token.kind in ("section", "inverted section"):
                open_keys.append(token.key)
            elif token.kind == "end":
                open_keys.pop()
        converted = convert_body([(template, 1)], set(data))
        if quirk or converted.problems:
            continue
        try:
            expected = chevron.render(template, data)
        except TypeError:  # `items.0` into False or None: chevron fails (the README lists it)
            continue
        got = render_within(variables_budget(data), environment().from_string(converted.templates[0]), data)
        assert got == expected, (template, data, converted.templates[0])
        compared += 1
    assert compared > 300


# ------------------------------------------------------------------ names the file does not declare
def test_undeclared_names_are_declared_as_prompty_renders_them(repo: Path, tmp_path: Path) -> None:
    """Prompty renders a missing name as nothing (a falsy section): the import declares each with an
    empty default of the kind its use implies, and says so; a name only read inside a section is the
    section's (its items'), not an input."""
    body = "user:\n{{title}} {{#things}}<{{label}}>{{/things}}{{^flags}}!{{/flags}} {{user.name}}"
    report = import_into(repo, "prompty", write_prompty(tmp_path, "p", body, {}))
    assert errors(report) == []
    inputs = {spec.name: (spec.type, spec.default) for spec in load(repo, "x/p").inputs}
    assert inputs == {"title": ("string", ""), "things": ("array", []), "flags": ("array", []), "user": ("object", {})}
    assert len([p for p in report.problems if "not among the inputs" in p.message]) == 4
    assert messages(repo, "x/p", {}) == prompty_sends(body, {}) == [{"role": "user", "content": " ! "}]
    data = {"title": "T", "things": [{"label": "a"}, {"label": "b"}], "user": {"name": "U"}}
    assert messages(repo, "x/p", data) == prompty_sends(body, data)


def test_the_imported_prompt_renders_in_the_cli(repo: Path, tmp_path: Path) -> None:
    body = "system:\nList for {{who}}:\n{{#items}}\n- {{name}}\n{{/items}}\n{{^items}}\n(nothing)\n{{/items}}\nuser:\nGo"
    import_into(repo, "prompty", write_prompty(tmp_path, "lst", body, {"who": "x", "items": [{"name": "x"}]}))
    values = tmp_path / "vars.json"
    values.write_text(json.dumps({"who": "Ann & Bo", "items": [{"name": "<tea>"}, {"name": "cake"}]}), encoding="utf-8")
    code, out, err = cli(repo, "render", "x/lst", "--vars-file", str(values), "--json")
    assert code == 0, out + err
    rendered = json.loads(out)["messages"]
    assert rendered == prompty_sends(body, json.loads(values.read_text(encoding="utf-8")))
    assert rendered[0]["content"] == "List for Ann &amp; Bo:\n- &lt;tea&gt;\n- cake"
    code, out, err = cli(repo, "validate")
    assert code == 0, out + err


# ------------------------------------------------------------------ what Prompty renders and the workbench cannot carry
@pytest.mark.parametrize(
    ("body", "line", "words"),
    [
        ("user:\n{{#a}}\nx\nassistant:\ny\n{{/a}}\n", 2, "role marker"),
        ("user:\nhello {{name\n", 2, "unclosed tag"),
        ("user:\n{{#a}}x{{/b}}\n", 2, "closes"),
        ("user:\n\n{{#a}}x\n", 3, "never closed"),
        ("user:\n{{/a}}\n", 2, "closes no section"),
        ("user:\n{{}}\n", 2, "empty tag"),
    ],
)
def test_a_template_that_cannot_be_carried_over_is_not_written(body: str, line: int, words: str, repo: Path, tmp_path: Path) -> None:
    report = import_into(repo, "prompty", write_prompty(tmp_path, "bad", body, {}))
    assert report.written == []
    found = [p for p in report.errors if p.path.endswith("bad.prompty")]
    assert found and found[0].line == 7 + line and words in found[0].message, [p.format() for p in report.problems]


def test_sections_nested_too_deep_are_refused_at_import(repo: Path, tmp_path: Path) -> None:
    depth = 40
    body = "user:\n" + "".join(f"{{{{#s{i}}}}}" for i in range(depth)) + "x" + "".join(f"{{{{/s{i}}}}}" for i in reversed(range(depth)))
    report = import_into(repo, "prompty", write_prompty(tmp_path, "deep", body, {}))
    assert report.written == []
    assert any("nested more than" in p.message and p.line == 9 for p in report.errors), [p.format() for p in report.problems]


def test_a_hostile_render_ends_with_a_clear_error(repo: Path, tmp_path: Path) -> None:
    """A section over a huge list, sections over sections: the render budget (output size, loop
    iterations, time) of every workbench template bounds a mustache one too."""
    body = "user:\n{{#items}}{{#items}}{{#items}}{{.}}{{/items}}{{/items}}{{/items}}\nassistant:\n{{#rows}}{{{big}}}{{/rows}}"
    import_into(repo, "prompty", write_prompty(tmp_path, "hostile", body, {"items": [1], "rows": [1], "big": "x"}))
    prompt = load(repo, "x/hostile")
    started = time.monotonic()
    with pytest.raises(RenderError, match="loop-iteration limit"):
        render_prompt(prompt, {"items": list(range(100)), "rows": [], "big": ""})
    with pytest.raises(RenderError, match="output-size limit"):
        render_prompt(prompt, {"items": [], "rows": list(range(5000)), "big": "y" * 1000})
    assert time.monotonic() - started < 10


def test_a_large_template_is_converted_in_linear_time() -> None:
    """chevron's tokenizer copies the rest of the template at every tag: quadratic, 7 s for 1 MB
    here and four times that for each doubling. The port walks the template once."""
    from workbench.core.formats.mustache import convert_body

    body = "{{a}} {{#s}}{{b}}{{/s}}\n" * 80_000  # 1.9 MB, 480,000 tags
    started = time.monotonic()
    result = convert_body([(body, 2)], {"a", "s", "b"})
    assert not result.problems and len(result.templates[0]) > len(body)
    assert time.monotonic() - started < 15


def test_a_long_line_is_checked_for_a_role_marker_in_linear_time() -> None:
    """The check for a line that may render as a role marker (`{{role}}:`) overlapped its
    quantifiers: 8.6 s for a line of 20,000 spaces, four times that for each doubling; a file
    may be 16 MiB. Both shapes that made it slow, each 100,000 characters long."""
    from workbench.core.formats.mustache import convert_body

    started = time.monotonic()
    for line in (" " * 100_000 + "x", "{{a}}" * 20_000 + " x", "# " + "{{a}}" * 20_000 + ":"):
        result = convert_body([(line + "\n", 2)], {"a", "x"})
        assert not any(error for _, _, error in result.problems), result.problems
    assert [message for _, message, _ in result.problems if "role marker" in message]  # the last one may be a role
    assert time.monotonic() - started < 15
