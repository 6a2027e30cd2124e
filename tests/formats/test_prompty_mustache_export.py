"""`workbench export --format prompty` of a prompt imported from a Prompty mustache file: it is
written back as mustache (`template: {format: {kind: mustache}}`), and the file renders in
Prompty's own pipeline (`prompty` 2.1.0, chevron 0.14) exactly as the workbench renders the
prompt; import -> export -> import gives the same messages. A prompt edited beyond the forms the
import writes is reported, naming what has no mustache form, and no file is written."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from format_helpers import (
    FIXTURES,
    cli,
    commit_all,
    errors,
    import_into,
    load,
    messages,
    new_repo,
    prompty_file_sends,
    round_trip,
)
from test_prompty_mustache import CASES, _random_template, _random_value, prompty_sends, write_prompty

from workbench.core.formats.base import Conversion
from workbench.core.model import InputSpec, Message, Prompt
from workbench.core.render import render_prompt

MUSTACHE = FIXTURES / "prompty_mustache"
SAMPLES = {
    "basic_mustache": {"firstName": "Jane <b>", "lastName": "O'Hara & Sons", "question": 'What is "it"?'},
    "mustache_partial": {"firstName": "John", "lastName": "Doe", "question": "What is your name?"},
    "basic_mustache_cs": {"firstName": "Jane", "lastName": "Doe", "question": "What is the meaning of life? <3"},
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return new_repo(tmp_path / "repo")


def test_an_imported_mustache_prompt_round_trips(repo: Path, tmp_path: Path) -> None:
    import_into(repo, "prompty", *(MUSTACHE / f"{stem}.prompty" for stem in SAMPLES))
    before, after, report = round_trip(repo, "prompty", sorted(SAMPLES), tmp_path)
    assert after == before  # the same prompt files, Jinja for Jinja
    assert sorted(report["written"]) == [f"x/{stem}.prompty" for stem in sorted(SAMPLES)], report
    for stem, variables in SAMPLES.items():
        exported = tmp_path / "export-prompty" / "x" / f"{stem}.prompty"
        assert "kind: mustache" in exported.read_text(encoding="utf-8")
        sent = messages(repo, f"x/{stem}", variables)
        assert prompty_file_sends(exported, variables) == sent
        assert messages(repo, f"y/{stem}", variables) == sent


def export_prompt(prompt: Prompt) -> Conversion:
    from workbench.core.formats.base import ExportedVersion, ExportItem
    from workbench.core.formats.prompty import export

    return export([ExportItem("p", (ExportedVersion(prompt, "0" * 40),))])


def jinja_prompt(*contents: str, inputs: dict[str, Any] | None = None) -> Prompt:
    """A prompt as a user may have edited an imported one: each content a user message's Jinja."""
    specs = tuple(InputSpec(name, json_kind(value), default=value, has_default=True) for name, value in (inputs or {}).items())
    return Prompt("p", "prompts/p.yaml", inputs=specs, messages=tuple(Message("user", content) for content in contents))


def json_kind(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}.get(type(value), "string")


def sends_after_export(prompt: Prompt, variables: dict[str, Any], folder: Path) -> list[dict[str, str]]:
    conversion = export_prompt(prompt)
    assert len(conversion.files) == 1, [p.format() for p in conversion.problems]
    path = folder / "p.prompty"
    path.write_text(conversion.files[0].text, encoding="utf-8")
    return prompty_file_sends(path, variables)


def workbench_sends(prompt: Prompt, variables: dict[str, Any]) -> list[dict[str, str]]:
    rendered = render_prompt(prompt, variables)
    return [{"role": m["role"], "content": m["content"]} for m in rendered.messages or []]


# ------------------------------------------------------------------ the corpus of the import, exported
@pytest.mark.parametrize(("name", "template", "data"), CASES, ids=[c[0] for c in CASES])
def test_the_corpus_round_trips_and_renders_in_prompty(name: str, template: str, data: dict[str, Any], repo: Path, tmp_path: Path) -> None:
    body = f"system:\nBEGIN\n{template}\nEND\nuser:\n{template}"
    import_into(repo, "prompty", write_prompty(tmp_path, name, body, data))
    prompt = load(repo, f"x/{name}")
    variables = {key: value for key, value in data.items() if key in {spec.name for spec in prompt.inputs}}
    sent = messages(repo, f"x/{name}", variables)
    out = tmp_path / "out"
    out.mkdir()
    assert sends_after_export(prompt, variables, out) == sent == prompty_sends(body, variables)
    again = import_into(repo, "prompty", out / "p.prompty", prefix="y")
    assert errors(again) == []
    assert messages(repo, "y/p", variables) == sent


def test_random_templates_export_to_what_chevron_renders_as_the_workbench_does() -> None:
    """The random templates of the import test, converted, then exported: chevron renders the
    mustache written as the workbench renders the Jinja; an inverted section inside a section of
    the same name (where chevron and the workbench part) is reported, not written."""
    import chevron

    from workbench.core.formats.mustache import convert_body, tokenize
    from workbench.core.formats.mustache_export import to_mustache
    from workbench.core.formats.prompty import ROLE_LINE
    from workbench.core.render import render_within, variables_budget
    from workbench.core.templates import environment

    rng = random.Random(20240612)
    compared = refused = switched = 0
    for _ in range(800):
        template = _random_template(rng)
        if rng.random() < 0.5:  # text holding delimiters, written with chevron's set-delimiter tags
            text = rng.choice(["{{x}}", "{{", "{", " }} ", "<% x %>", "[[a]]", "{{=", "{{! }}", "\n{{#a}}\n"])
            template += "{{=| |=}}" + text + "|={{ }}=|" + rng.choice(["", "\n"]) + _random_template(rng)
        data = {key: _random_value(rng) for key in ("a", "b", "items", "x")}
        converted = convert_body([(template, 1)], set(data))
        if converted.failed:
            continue
        sections: list[tuple[str, str]] = []
        clash = False
        for token in tokenize(template):
            clash = clash or (token.kind == "inverted section" and ("section", token.key) in sections)
            if token.kind in ("section", "inverted section"):
                sections.append((token.kind, token.key))
            elif token.kind == "end":
                sections.pop()
        written = to_mustache([(converted.templates[0], False)], set(data), ROLE_LINE)
        if written.problem:  # unless the section is one the import drops (`{{#.}}` at the top renders nothing)
            whole_input = any("whole input" in message for _, message, _ in converted.problems)  # `{{^.}}`: the import said so
            assert (clash and "same name" in written.problem) or (whole_input and "`true`" in written.problem), (template, converted.templates[0], written.problem)
            refused += 1
            continue
        expected = render_within(variables_budget(data), environment().from_string(converted.templates[0]), data)
        try:
            got = chevron.render(written.texts[0], data)
        except TypeError:  # `items.0` into False or None: chevron fails (the README lists it)
            continue
        switched += any(f"={left} {right}=" in written.texts[0] for left, right in (("<%", "%>"), ("[[", "]]"), ("<<", ">>")))
        assert got.strip("\n") == expected.strip("\n"), (template, converted.templates[0], written.texts[0], data)
        compared += 1
    assert compared > 400 and refused > 10 and switched > 100, (compared, refused, switched)


# ------------------------------------------------------------------ text that must stay text
EDITED = [
    ("braces_in_text", "Use {{ '{{' }}name}} and {{ '{%' }} x %} here: {{ who | mustache }}.", {"who": "<me>"}),
    ("every_delimiter", "{{ '{{' }} <% %> [[ ]] << >> (% %) <~% %~> {{ '{{' }}=<% %>=}} {{ who | mustache }} }}}", {"who": "a"}),
    ("brace_before_tag", "{{ '{' }}{{ who | mustache }}}{{ '{' }}", {"who": "v"}),
    ("comment_and_sigils", "{{ '{{' }}! not a comment }} {{ '{{' }}#s}} {{ '{{' }}> p}} {{ '{{' }}& x}}", {}),
    ("delimiters_at_the_end", "end {{ '{{' }}", {}),
    ("standalone_blocks", "A\n{% for item in s | mustache_section %}\n- {{ item | mustache }}\n{% endfor %}\n  {% if not (s) %}\n  none\n{% endif %}\nB", {"s": ["x", "y"]}),
    ("standalone_empty", "A\n{% if not (s) %}\n{% endif %}\nB", {"s": []}),
    ("text_with_delimiters_in_sections", "{% for item in s | mustache_section %}{{ '{{' }}{{ [item] | mustache_get(\"k\") | mustache }}}}{% endfor %}", {"s": [{"k": "<1>"}, {"k": 2}]}),
    ("unescaped_and_paths", "{{ v | mustache(escape=false) }} {{ v | mustache(false) }} {{ o | mustache_path(\"a.0\") | mustache }}", {"v": "<&>", "o": {"a": ["z"]}}),
    ("literal_true_and_nothing", "[{{ '' | mustache }}]{% for item in '' | mustache_section %}x{% endfor %}{% if not ('') %}y{% endif %}True", {}),
]


@pytest.mark.parametrize(("name", "content", "data"), EDITED, ids=[c[0] for c in EDITED])
def test_text_that_looks_like_mustache_stays_text(name: str, content: str, data: dict[str, Any], tmp_path: Path) -> None:
    """Literal `{{`, `}}` and every delimiter pair the export may switch to stay text; block tags
    alone on their lines keep their lines (chevron drops a standalone tag's line)."""
    prompt = jinja_prompt(content + "{{ '' | mustache }}", inputs=data)
    assert sends_after_export(prompt, data, tmp_path) == workbench_sends(prompt, data)


def test_values_never_become_template_syntax(tmp_path: Path) -> None:
    """Input defaults and the values passed are data: mustache never reads them as tags."""
    data = {"who": "{{=<% %>=}}<% who %>{{#x}}", "x": ["{{.}}"]}
    prompt = jinja_prompt("{{ who | mustache }}{% for item in x | mustache_section %}{{ item | mustache(escape=false) }}{% endfor %}", inputs=data)
    text = export_prompt(prompt).files[0].text
    assert "<% who %>" in text.split("---")[1]  # in the front matter's default, not the body
    assert sends_after_export(prompt, data, tmp_path) == workbench_sends(prompt, data) == [{"role": "user", "content": "{{=&lt;% %&gt;=}}&lt;% who %&gt;{{#x}}{{.}}"}]


# ------------------------------------------------------------------ what has no mustache form
@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("{% if premium %}VIP{% endif %}", "`{% if premium %}`"),
        ("Hi {{ name | upper }}", "the filter `upper`"),
        ("Hi {{ name }}", "`{{ name }}`"),
        ("{% for item in items %}{{ item | mustache }}{% endfor %}", "`{% for item in items %}`"),
        ("{% for item in items | mustache_section %}{{ name | mustache }}{% endfor %}", "`name` (a name inside a section"),
        ("{% for item in items | mustache_section %}{{ [item] | mustache_get(\"name\") | mustache }}{% endfor %}", "does not read the input `name`"),
        ("{% for item in items | mustache_section %}{% if not ([item] | mustache_get(\"items\", items)) %}x{% endif %}{% endfor %}", "same name"),
        ("{% set x = 1 %}{{ name | mustache }}", "a Jinja `set` block"),
        ("{{ name | mustache }}{% if not (name) %}a{% else %}b{% endif %}", "`{% if not name %}`"),
    ],
)
def test_a_construct_without_a_mustache_form_is_reported_and_nothing_written(content: str, words: str) -> None:
    prompt = jinja_prompt("Hello {{ name | mustache }}", content, inputs={"name": "n", "items": [], "premium": False})
    conversion = export_prompt(prompt)
    assert conversion.files == []
    found = [p.message for p in conversion.problems if "no mustache form" in p.message]
    assert len(found) == 1 and found[0].startswith("message 2") and words in found[0] and "not exported" in found[0], [p.message for p in conversion.problems]


def test_a_plain_message_next_to_mustache_ones_is_exported_as_text(tmp_path: Path) -> None:
    prompt = jinja_prompt("Hi {{ name | mustache }}", "Plain {{ '{{' }}text}} & more", inputs={"name": "<n>"})
    assert sends_after_export(prompt, {"name": "<n>"}, tmp_path) == workbench_sends(prompt, {"name": "<n>"})


def test_a_line_that_renders_as_a_role_marker_is_reported() -> None:
    prompt = jinja_prompt("Hi {{ name | mustache }}\n{% if not (name) %}user:{% endif %}\nx", inputs={"name": ""})
    conversion = export_prompt(prompt)
    assert conversion.files == [] and any("role marker" in p.message for p in conversion.problems)


def test_export_through_the_cli_names_the_construct(repo: Path, tmp_path: Path) -> None:
    import_into(repo, "prompty", MUSTACHE / "basic_mustache_cs.prompty")
    path = repo / "prompts" / "x" / "basic_mustache_cs.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("{{ question | mustache }}", "{{ question | upper }}"), encoding="utf-8")
    commit_all(repo)
    assert cli(repo, "promote", "x/basic_mustache_cs", "--env", "dev", "-m", "t")[0] == 0
    code, out, err = cli(repo, "export", str(tmp_path / "out"), "--env", "dev", "--format", "prompty", "--json")
    assert code == 0, out + err
    report = json.loads(out)
    assert report["written"] == [] and any("the filter `upper`" in p["message"] for p in report["not_carried_over"]), report


def test_a_line_that_may_render_as_a_role_marker_is_exported_and_said(tmp_path: Path) -> None:
    """promptyjs's Contoso sample writes `{{type}}:` lines from a list: the workbench keeps them as
    text, Prompty 2 refuses the render: exported as it was imported, with the import's warning."""
    prompt = jinja_prompt("Hi {{ name | mustache }}", "{% for item in h | mustache_section %}\n{{ [item] | mustache_get(\"type\") | mustache }}:\n{% endfor %}", inputs={"name": "n", "h": [{"type": "x"}]})
    conversion = export_prompt(prompt)
    assert len(conversion.files) == 1
    found = [p.message for p in conversion.problems if "role marker" in p.message]
    assert len(found) == 1 and found[0].startswith("message 2, line 2: `{{type}}:` may render as a role marker"), [p.message for p in conversion.problems]
