"""`workbench import github-models` / `export --format github-models`: gh-models' own sample
files convert, validate, render to the messages `gh models eval` sends for each testData row
(its `TemplateString`, re-stated below from gh-models `pkg/prompt/prompt.go`), survive a round
trip, and the export is a file gh's loader (`prompt.LoadFromFile`, restated below) accepts."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from format_helpers import FIXTURES, errors, import_into, load, messages, new_repo, round_trip

GH = FIXTURES / "github_models"
STEMS = sorted(p.name.removesuffix(".prompt.yml") for p in GH.glob("*.prompt.yml"))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return new_repo(tmp_path / "repo")


def go_v(value: Any) -> str:
    """Go's `%v` of what yaml.v3 decodes: a float as strconv.FormatFloat(x, 'g', -1, 64), the
    shortest digits, in exponent form when the exponent is under -4 or 6 and over (`1e+06`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if not isinstance(value, float):
        return str(value)
    shortest = Decimal(repr(value)).normalize()
    negative, digits, power = shortest.as_tuple()
    assert isinstance(power, int)
    exponent = len(digits) + power - 1
    if exponent < -4 or exponent >= 6:
        text = "".join(map(str, digits))
        return f"{'-' if negative else ''}{text[0]}{'.' + text[1:] if len(text) > 1 else ''}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    return format(shortest, "f")


def gh_template(text: str, row: dict[str, Any]) -> str:
    """gh-models `prompt.TemplateString`: each `{{key}}` of the row replaced (Go's %v for others)."""
    for key, value in row.items():
        text = text.replace("{{" + key + "}}", value if isinstance(value, str) else go_v(value))
    return text


def test_go_v_prints_floats_as_go_does() -> None:
    """Values printed by `fmt.Sprintf("%v", x)` with Go 1.22 for the float64 of each."""
    cases = {2.0: "2", 2.5: "2.5", 0.1: "0.1", 100000.0: "100000", 1000000.0: "1e+06", 1234567.5: "1.2345675e+06", 0.0001: "0.0001", 0.00001: "1e-05", -3.0: "-3", 123456.5: "123456.5"}
    assert {x: go_v(x) for x in cases} == cases


def test_whole_numbers_in_testdata_render_as_gh_sends_them(repo: Path, tmp_path: Path) -> None:
    """yaml.v3 decodes `2.0` as float64 2, which gh substitutes as `2`: the imported test sent
    `2.0`; and a column mixing numbers with text or booleans failed to render at all."""
    source = tmp_path / "n.prompt.yml"
    rows = [{"n": 2.0, "m": 2.5}, {"n": 3, "m": 100000.0}, {"n": 1000000.0, "m": True}]
    source.write_text(yaml.safe_dump({"messages": [{"role": "user", "content": "{{n}} and {{m}}"}], "testData": rows}), encoding="utf-8")
    import_into(repo, "github-models", source)
    prompt = load(repo, "x/n")
    for index, row in enumerate(rows):
        assert messages(repo, "x/n", dict(prompt.tests[index].vars)) == [{"role": "user", "content": gh_template("{{n}} and {{m}}", row)}]


def gh_yaml(text: str) -> Any:
    """A file as gh holds it once yaml.v3 has decoded it into its `File` struct: string fields as
    their text (`GH_KEEPS`), testData values (interface{}) and model parameters (Go numbers) as
    yaml.v3 resolves them (`GH_SENDS`)."""
    from workbench.core.formats.go_yaml import GoText, go_value
    from workbench.core.yamlpos import parse_yaml

    doc = parse_yaml(text, schema=GoText, keep_nodes=True)
    data, nodes = doc.value, doc.nodes or {}
    for index, row in enumerate(data.get("testData") or [] if isinstance(data, dict) else []):
        if isinstance(row, dict):
            data["testData"][index] = {key: go_value(nodes[("testData", index, key)]) for key in row}
    if isinstance(data, dict) and isinstance(data.get("modelParameters"), dict):
        data["modelParameters"] = {key: go_value(nodes[("modelParameters", key)]) for key in data["modelParameters"]}
    return data


def gh_load(path: Path) -> dict[str, Any]:
    """What gh-models `prompt.LoadFromFile` accepts: yaml.v3 into its `File` struct (unknown keys
    ignored, types enforced), then `validateResponseFormat`. Raises AssertionError otherwise."""
    data = gh_yaml(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    for key in ("name", "description", "model"):
        assert isinstance(data.get(key, ""), str), key
    params = data.get("modelParameters") or {}
    assert isinstance(params, dict)
    assert isinstance(params.get("maxTokens", 0), int) and not isinstance(params.get("maxTokens", 0), bool)
    for key in ("temperature", "topP"):
        assert isinstance(params.get(key, 0.0), (int, float)), key
    assert all(isinstance(m, dict) and set(m) <= {"role", "content"} and isinstance(m.get("content", ""), str) for m in data["messages"])
    assert all(m["role"].lower() in ("system", "user", "assistant") for m in data["messages"])  # GetAzureChatMessageRole
    assert all(isinstance(row, dict) for row in data.get("testData") or [])
    for evaluator in data.get("evaluators") or []:
        assert isinstance(evaluator.get("name"), str)
        assert sum(k in evaluator for k in ("string", "llm", "uses")) == 1
        if "string" in evaluator:
            assert set(evaluator["string"]) <= {"equals", "contains", "startsWith", "endsWith"} and all(isinstance(v, str) for v in evaluator["string"].values())
        if "uses" in evaluator:
            assert evaluator["uses"].startswith("github/")
    fmt = data.get("responseFormat")
    if fmt is not None:
        assert fmt in ("text", "json_object", "json_schema")
        if fmt == "json_schema":
            schema = json.loads(data["jsonSchema"])  # a JSON string, not a mapping
            assert "name" in schema and "schema" in schema
    return data


def test_samples_convert_and_validate(repo: Path) -> None:
    report = import_into(repo, "github-models", GH)
    assert errors(report) == []
    assert sorted(report.written) == [f"prompts/x/{stem}.yaml" for stem in STEMS]


@pytest.mark.parametrize("stem", STEMS)
def test_each_test_row_renders_what_gh_sends(stem: str, repo: Path) -> None:
    import_into(repo, "github-models", GH)
    source = yaml.safe_load((GH / f"{stem}.prompt.yml").read_text(encoding="utf-8"))
    prompt = load(repo, f"x/{stem}")
    rows = source.get("testData") or [{}]
    assert len(prompt.tests) == len(source.get("testData") or [])
    for index, row in enumerate(rows):
        theirs = [{"role": m["role"], "content": gh_template(m["content"], row)} for m in source["messages"]]
        variables = prompt.tests[index].vars if prompt.tests else {i.name: "{{" + i.name + "}}" for i in prompt.inputs if not i.has_default}
        assert messages(repo, f"x/{stem}", dict(variables)) == theirs


def test_model_and_evaluators_carry_over(repo: Path) -> None:
    report = import_into(repo, "github-models", GH / "sample_prompt.prompt.yml")
    prompt = load(repo, "x/sample_prompt")
    assert (prompt.model.name, prompt.model.base_url, prompt.model.api_key_env) == ("openai/gpt-4o", "https://models.github.ai/inference", "GITHUB_TOKEN")
    assert dict(prompt.model.parameters) == {"temperature": 0.5, "max_tokens": 50}
    first = prompt.tests[0]
    kinds = [(a.type, a.value) for a in first.asserts]
    assert ("icontains", "hello") in kinds  # gh: contains, case-insensitive, row value substituted
    assert any(a.type == "llm-rubric" and "greeting response" in str(a.value) for a in first.asserts)
    similarity = [p for p in report.problems if "github/similarity" in p.message]
    assert [(p.line, p.col) for p in similarity] == [(24, 5)]


def test_import_is_idempotent(repo: Path) -> None:
    first = import_into(repo, "github-models", GH)
    again = import_into(repo, "github-models", GH)
    assert again.written == [] and sorted(again.unchanged) == sorted(first.written)


def test_round_trip_and_gh_accepts_the_export(repo: Path, tmp_path: Path) -> None:
    import_into(repo, "github-models", GH)
    before, after, _ = round_trip(repo, "github-models", STEMS, tmp_path)
    assert after == before
    for stem in STEMS:
        exported = gh_load(tmp_path / "export-github-models" / "x" / f"{stem}.prompt.yml")
        original = gh_load(GH / f"{stem}.prompt.yml")
        for key in ("model", "modelParameters", "messages", "responseFormat", "description"):
            assert exported.get(key) == original.get(key), (stem, key)
        if "jsonSchema" in original:
            assert json.loads(exported["jsonSchema"]) == json.loads(original["jsonSchema"])
        assert checks(exported) == checks(original), stem


def checks(data: dict[str, Any]) -> list[list[Any]]:
    """Per testData row, what gh sends and checks: the messages, then each evaluator with the
    row substituted (contains, startsWith and endsWith compare lowercased; a row key that only
    an evaluator reads may be renamed on the way, its value is what counts)."""
    rows = data.get("testData") or [{}]
    out = []
    for row in rows:
        sent = [gh_template(m["content"], row) for m in data["messages"]]
        evaluated = [
            {k: gh_template(v, row) if k == "equals" else gh_template(v, row).lower() for k, v in e["string"].items()} if "string" in e else (e["uses"], row.get("expected"))
            for e in data.get("evaluators") or []
        ]
        # Known difference: evaluators come back in another order (those reading a row key last) and a
        # built-in's display name becomes its `uses` name (README, "Import and export").
        out.append([sent, sorted(evaluated, key=repr)])
    return out


def test_input_defaults_reach_the_testdata_rows_and_langfuse_says_it_drops_them(tmp_path: Path) -> None:
    """gh models has no defaults: a row without `n` sent the literal `{{n}}`, and the re-import
    declared `n` with default '{{n}}'. Langfuse has no inputs: its export dropped the default
    without a word, and the re-import made `n` required."""
    import json

    from format_helpers import cli, commit_all

    root = new_repo(tmp_path / "repo")
    (root / "prompts" / "d.yaml").write_text(
        "inputs: {name: {type: string, required: true}, n: {type: number, default: 1.5}}\n"
        "messages:\n  - {role: user, content: 'Hi {{ name }}, n={{ n }}'}\n"
        "tests:\n  - {vars: {name: Ada}, assert: [{type: contains, value: Ada}]}\n",
        encoding="utf-8",
    )
    commit_all(root)
    assert cli(root, "promote", "d", "--env", "dev", "-m", "x")[0] == 0
    code, out, err = cli(root, "export", str(tmp_path / "gh"), "--env", "dev", "--format", "github-models")
    assert code == 0, out + err
    exported = (tmp_path / "gh" / "d.prompt.yml").read_text(encoding="utf-8")
    assert "testData:\n- name: Ada\n  n: 1.5\n" in exported, exported
    code, out, err = cli(root, "export", str(tmp_path / "lf"), "--env", "dev", "--format", "langfuse", "--json")
    assert code == 0, out + err
    assert any("default of `n`" in p["message"] for p in json.loads(out)["not_carried_over"]), out


# What `gh models eval` sends for a plain scalar of a testData row: gopkg.in/yaml.v3 v3.0.1 (the
# version in gh-models' go.mod) decoding into `prompt.TestDataItem` (map[string]interface{}),
# then `prompt.TemplateString` (the string, or fmt.Sprintf("%v", value)). Each right-hand side
# was printed by a Go program doing exactly that, built against Debian's
# golang-gopkg-yaml.v3-dev 3.0.1 (Go 1.19, TZ=UTC), not computed here.
GH_SENDS = [
    ('1e6', '1e+06'),
    ('-1E-3', '-0.001'),
    ('.5', '0.5'),
    ('+12e03', '12000'),
    ('.inf', '+Inf'),
    ('.nan', 'NaN'),
    ('-.Inf', '-Inf'),
    ('yes', 'yes'),
    ('no', 'no'),
    ('on', 'on'),
    ('off', 'off'),
    ('0o17', '15'),
    ('1_000', '1000'),
    ('1:30', '1:30'),
    ('017', '15'),
    ('08', '8'),
    ('0x1F', '31'),
    ('0b101', '5'),
    ('1.5e3', '1500'),
    ('1.', '1'),
    ('2001-12-14', '2001-12-14 00:00:00 +0000 UTC'),
    ('2001-12-14t21:59:43.10-05:00', '2001-12-14 21:59:43.1 -0500 -0500'),
    ('Yes', 'Yes'),
    ('NULL', '<nil>'),
    ('~', '<nil>'),
    ('1.0', '1'),
    ('1000000.0', '1e+06'),
    ('12345678901234567890', '12345678901234567890'),
    ('123456789012345678901234567890', '1.2345678901234568e+29'),
    ('-0.0', '-0'),
    ('190:20:30', '190:20:30'),
    ('1_0.5', '10.5'),
    ('=', '='),
    ('y', 'y'),
    ('True', 'true'),
    ('+.inf', '+Inf'),
    ('-.nan', '-.nan'),
    ('0.00001', '1e-05'),
    ('-0b101', '-5'),
    ('-0o17', '-15'),
    ('1e400', '1e400'),
    ('9223372036854775808', '9223372036854775808'),
    ('-9223372036854775809', '-9.223372036854776e+18'),
    ('._5', '._5'),
    ('.5_5', '0.55'),
    ('0777', '511'),
    ('1e+6', '1e+06'),
    ('6.02e23', '6.02e+23'),
    ('1e5', '100000'),
    ('[1, 1e6, yes, null, 2.0]', '[1 1e+06 yes <nil> 2]'),
    ('{k: 1e6, on: off}', 'map[k:1e+06 on:off]'),
    ('1234567.8', '1.2345678e+06'),
    ('.1e1', '1'),
    ('00', '0'),
    ('0x', '0x'),
    ('_1', '_1'),
    ('0b1_0', '2'),
    ('2001-12-14 21:59:43.10', '2001-12-14 21:59:43.1 +0000 UTC'),
    ('2001-12-14T21:59:43Z', '2001-12-14 21:59:43 +0000 UTC'),
    ('2001-12-14T21:59:43', '2001-12-14T21:59:43'),
    ('2001-2-30', '2001-2-30'),
    ('2001-12-14  21:59:43', '2001-12-14 21:59:43 +0000 UTC'),
    ('2001-12-14 1:2:3', '2001-12-14 01:02:03 +0000 UTC'),
    ('2001-12-14 21:59:43,5', '2001-12-14 21:59:43.5 +0000 UTC'),
    ('2001-12-14T21:59:43+00:00', '2001-12-14 21:59:43 +0000 UTC'),
    ('2001-12-14 21:59:60', '2001-12-14 21:59:60'),
    ('2001-1-2', '2001-01-02 00:00:00 +0000 UTC'),
    ('2001-12-14T21:59:43.000Z', '2001-12-14 21:59:43 +0000 UTC'),
    ('2001-12-14 21:59:43 +01:00', '2001-12-14 21:59:43 +01:00'),
    ('2001-12-14T21:59:43.1+01:30', '2001-12-14 21:59:43.1 +0130 +0130'),
    ('2000-02-29', '2000-02-29 00:00:00 +0000 UTC'),
    ('2001-02-29', '2001-02-29'),
    ('2001-12-14t21:59:43z', '2001-12-14t21:59:43z'),
    ('+0x1F', '31'),
    ('0B11', '3'),
    ('0O17', '15'),
    ('9999999999999999999999', '1e+22'),
    ('-0x8000000000000000', '-9223372036854775808'),
    ('0xFFFFFFFFFFFFFFFFF', '0xFFFFFFFFFFFFFFFFF'),
    ('+18446744073709551615', '1.8446744073709552e+19'),
    ('18446744073709551615', '18446744073709551615'),
    ('1e-400', '0'),
    ('.5e', '.5e'),
    ('0x1p3', '0x1p3'),
    ('09.5', '9.5'),
    ('0e0', '0'),
    ('nULL', 'nULL'),
    ('fAlse', 'fAlse'),
    ('.', '.'),
    ('1e06', '1e+06'),
]


def test_testdata_scalars_are_read_as_gh_reads_them(repo: Path, tmp_path: Path) -> None:
    """gh reads a `.prompt.yml` with yaml.v3, mostly YAML 1.2: `1e6`, `-1E-3`, `.5`, `+12e03` are
    floats (text to PyYAML, whose YAML 1.1 floats need a dot and a signed exponent), `yes`, `on`
    and `Yes` are words (booleans to PyYAML), `0o17` is 15, `1:30` is text (90 to PyYAML), `08`
    is the float 8, `=` is text (PyYAML cannot read it at all), a date is a Go time.Time. A
    second row of text makes every column text, so each value is compared as gh prints it."""
    keys = [f"k{i}" for i in range(len(GH_SENDS))]
    content = "\\n".join("{{" + key + "}}" for key in keys)
    plain = "".join(f"    {key}: {value}\n" for key, (value, _) in zip(keys, GH_SENDS, strict=True)).replace("    ", "  - ", 1)
    text = "".join(f"    {key}: 'x'\n" for key in keys).replace("    ", "  - ", 1)
    source = tmp_path / "scalars.prompt.yml"
    source.write_text(f'messages:\n  - role: user\n    content: "{content}"\ntestData:\n{plain}{text}', encoding="utf-8")
    report = import_into(repo, "github-models", source)
    assert errors(report) == []
    prompt = load(repo, "x/scalars")
    sent = messages(repo, "x/scalars", dict(prompt.tests[0].vars))[0]["content"].split("\n")
    assert list(zip([v for v, _ in GH_SENDS], sent, strict=True)) == GH_SENDS


def test_only_the_gh_reader_reads_yaml_as_gh_does() -> None:
    """The workbench's own files are still read by PyYAML's rules (README: "The prompt file format")."""
    from workbench.core.formats.go_yaml import GoText, go_value
    from workbench.core.yamlpos import parse_yaml

    text = "a: 1e6\nb: yes\nc: 1:30\nd: 0o17\ne: true\nf: ~\n"
    assert parse_yaml(text).value == {"a": "1e6", "b": True, "c": 90, "d": "0o17", "e": True, "f": None}
    gh = parse_yaml(text, schema=GoText, keep_nodes=True)
    assert gh.value == {"a": "1e6", "b": "yes", "c": "1:30", "d": "0o17", "e": "true", "f": None}  # a Go string field
    assert gh.nodes is not None and {k: go_value(gh.nodes[(k,)]) for k in gh.value} == {"a": 1e6, "b": "yes", "c": "1:30", "d": 15, "e": True, "f": None}  # an interface{}
    assert parse_yaml(text).nodes is None  # kept only when asked
    for huge in ("1" * 5000, "0x" + "f" * 5000):  # past uint64 and float64: text to yaml.v3 (int() refused 4,300 digits)
        gh = parse_yaml(f"a: {huge}", schema=GoText, keep_nodes=True)
        assert gh.value == {"a": huge} and gh.nodes is not None and go_value(gh.nodes[("a",)]) == huge
    # `!!int abc` is read as its text: gh refuses it only where it decodes it (gh_decode, which
    # test_github_models_decode checks), not under a key gh ignores.
    assert parse_yaml("a: !!int abc", schema=GoText).value == {"a": "abc"}


def test_export_quotes_text_gh_would_read_as_something_else(repo: Path, tmp_path: Path) -> None:
    """A test variable `1e6`, `0o17` or `08` is text to the workbench: exported unquoted, gh read a
    number and sent `1e+06`, `15`, `8`."""
    words = ["1e6", "0o17", "08", "1.5e3", ".5e3", "+12e03", "on", "yes", "1:30", "2001-12-14", "-.inf", "1_000", "null", "~", "True"]
    body = "".join(f"  - vars: {{w: {json.dumps(w)}}}\n" for w in words)
    (repo / "prompts" / "x").mkdir()
    (repo / "prompts" / "x" / "w.yaml").write_text(f"inputs:\n  w: {{type: string, required: true}}\nmessages:\n  - {{role: user, content: '{{{{ w }}}}'}}\ntests:\n{body}", encoding="utf-8")
    assert [t.vars["w"] for t in load(repo, "x/w").tests] == words
    round_trip(repo, "github-models", ["w"], tmp_path)
    assert [t.vars["w"] for t in load(repo, "y/w").tests] == words  # imported again: the same text
    exported = gh_load(tmp_path / "export-github-models" / "x" / "w.prompt.yml")
    assert [row["w"] for row in exported["testData"]] == words


# What gh-models holds in a typed Go `string` field (a message's `content`, `role`, the file's
# `description`, `name`, `model`, a string evaluator's value, a testData row's key: map[string])
# for each scalar: yaml.v3's decoder (decode.go, `scalar`) sets a string field to the scalar's
# own text whatever it resolves to, so `1e6` stays `1e6` and `true` stays `true` (no error); a
# null leaves the field empty; only an explicit tag it cannot read (`!!int abc`) is an error.
# Printed by a Go program decoding into gh-models' `prompt.File` types with Debian's
# golang-gopkg-yaml.v3-dev 3.0.1 (Go 1.19), not computed here.
GH_KEEPS = [
    ("1e6", "1e6"),
    (".5", ".5"),
    ("0o17", "0o17"),
    ("08", "08"),
    ("+12e03", "+12e03"),
    ("2001-12-14", "2001-12-14"),
    ("2001-12-14 21:59:43.10", "2001-12-14 21:59:43.10"),
    ("true", "true"),
    ("True", "True"),
    ("FALSE", "FALSE"),
    ("yes", "yes"),
    ("1.50", "1.50"),
    ("1:30", "1:30"),
    (".inf", ".inf"),
    ("12", "12"),
    ("=", "="),
    ("!!int 12", "12"),
    ("!!float 1", "1"),
    ('"1e6"', "1e6"),
]


def test_string_fields_keep_the_text_gh_reads_into_go_strings(repo: Path, tmp_path: Path) -> None:
    """gh decodes a prompt file into typed structs: only testData values are interface{}. The
    importer read every plain scalar as an interface{}: `content: 1e6` became the float 1e6,
    "message without text content not carried over", and `description: 1e6` was dropped;
    `equals: 1.50` checked for `1.5`, `contains: true` for `True`; a row key `1e6` became
    `1000000.0`. A testData value is still read as gh reads it (`x: 1e6` sends `1e+06`)."""
    body = "".join(f"  - role: user\n    content: {value}\n" for value, _ in GH_KEEPS)
    source = tmp_path / "keep.prompt.yml"
    source.write_text(
        f"name: 0o17\ndescription: 1e6\nmodel: openai/1e6\nmessages:\n  - role: system\n    content: 'x={{{{x}}}}'\n{body}"
        "testData:\n  - {1e6: a, true: b, 0o17: c, x: 1e6}\n"
        "evaluators:\n  - name: 1e6\n    string: {equals: 1.50}\n  - name: t\n    string: {contains: true}\n",
        encoding="utf-8",
    )
    report = import_into(repo, "github-models", source)
    assert errors(report) == []
    assert [p.message for p in report.problems if "message" in p.message] == []
    prompt = load(repo, "x/keep")
    assert prompt.description == "1e6"
    assert prompt.model.name == "openai/1e6"
    test = prompt.tests[0]
    assert messages(repo, "x/keep", dict(test.vars)) == [{"role": "system", "content": "x=1e+06"}] + [{"role": "user", "content": sent} for _, sent in GH_KEEPS]
    assert prompt.raw["tests"][0]["metadata"] == {"1e6": "a", "true": "b", "0o17": "c"}
    assert sorted((a.type, a.value) for a in test.asserts) == [("equals", "1.50"), ("icontains", "true")]


def test_true_and_null_in_a_string_field() -> None:
    """`role: true` is the role `true` to gh (not an error: an unknown role); a null content is
    an empty string to gh, which it sends (test_github_models_decode)."""
    from workbench.core.formats.base import Source
    from workbench.core.formats.github_models import convert

    problems = convert(Source("n.prompt.yml", "messages:\n  - {role: true, content: x}\n  - {role: user, content: ~}\n  - {role: user, content: hi}\n", lambda _: None, "")).problems
    assert [p.message for p in problems] == ["message role 'true' not carried over (gh models knows system, user, assistant)"]
