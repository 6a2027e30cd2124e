"""`workbench import prompty` / `export --format prompty`: Prompty's own sample files convert,
validate, render to exactly the messages Prompty's runtime (`prompty` 2.1.0: `load` +
`prepare`) builds for the same inputs, survive a round trip, and never write a secret."""

from __future__ import annotations

from pathlib import Path

import pytest
from format_helpers import (
    FIXTURES,
    cli,
    errors,
    import_into,
    load,
    messages,
    new_repo,
    prompty_file_sends,
    round_trip,
)

PROMPTY = FIXTURES / "prompty"
STEMS = sorted(p.stem for p in PROMPTY.glob("*.prompty"))
SECRET = "sk-this-value-must-never-be-written"
# Values with newlines at their edges: Prompty strips each message's outer newlines after rendering.
EDGY = "\nfirst line\nlast line\n"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The variables the sample files name (Prompty resolves ${env:...} when it loads a file)."""
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "https://example.openai.azure.com")
    monkeypatch.setenv("OPENAI_ENDPOINT", "https://endpoint.example/v1")
    # Prompty 2 sends a key only to an endpoint written as ${env:...} or trusted here; an
    # exported file carries the endpoint literally (a workbench prompt has no ${env:...}).
    monkeypatch.setenv("PROMPTY_TRUSTED_ENDPOINTS", "https://models.inference.ai.azure.com")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return new_repo(tmp_path / "repo")


def test_samples_convert_and_validate(repo: Path, env: None) -> None:
    report = import_into(repo, "prompty", PROMPTY)
    assert errors(report) == []
    assert sorted(report.written) == [f"prompts/x/{stem}.yaml" for stem in STEMS]
    for stem in STEMS:
        load(repo, f"x/{stem}")


@pytest.mark.parametrize("stem", STEMS)
@pytest.mark.parametrize("values", ["defaults", "edgy"])
def test_renders_what_prompty_sends(stem: str, values: str, repo: Path, env: None) -> None:
    import_into(repo, "prompty", PROMPTY)
    prompt = load(repo, f"x/{stem}")
    if values == "defaults":
        variables = {i.name: i.default if i.has_default else f"<{i.name}>" for i in prompt.inputs}
    else:
        variables = {i.name: EDGY for i in prompt.inputs}
    assert messages(repo, f"x/{stem}", variables) == prompty_file_sends(PROMPTY / f"{stem}.prompty", variables)


def test_env_references_become_variable_names_never_values(repo: Path, env: None, tmp_path: Path) -> None:
    source = tmp_path / "keys.prompty"
    source.write_text(
        "---\nmodel:\n  id: gpt-4o\n  connection:\n    kind: key\n"
        "    endpoint: ${env:MY_ENDPOINT:https://llm.example/v1}\n    apiKey: ${env:OPENAI_API_KEY}\n---\nuser:\nhi\n",
        encoding="utf-8",
    )
    literal = tmp_path / "literal.prompty"
    literal.write_text(f"---\nmodel:\n  id: gpt-4o\n  connection:\n    kind: key\n    apiKey: {SECRET}\n---\nuser:\nhi\n", encoding="utf-8")
    report = import_into(repo, "prompty", source, literal)
    written = {p: (repo / p).read_text(encoding="utf-8") for p in report.written}
    assert all(SECRET not in text for text in written.values())
    model = load(repo, "x/keys").model
    assert (model.api_key_env, model.base_url, model.name) == ("OPENAI_API_KEY", "https://llm.example/v1", "gpt-4o")
    assert load(repo, "x/literal").model.api_key_env is None
    lost = [p for p in report.problems if p.path.endswith("literal.prompty")]
    assert [(p.line, p.col) for p in lost] == [(6, 5)] and "literal API key is not carried over" in lost[0].message
    # The same import, shown by the CLI: no secret in what it prints either.
    code, out, err = cli(repo, "import", "prompty", str(source), str(literal), "--prefix", "x")
    assert code == 0 and SECRET not in out + err and "literal.prompty:6:5" in out


def test_lost_fields_are_reported_with_file_and_position(repo: Path, env: None) -> None:
    report = import_into(repo, "prompty", PROMPTY / "tools_function.prompty", PROMPTY / "shakespeare.prompty")
    found = {(Path(p.path).name, p.line, p.col): p.message for p in report.problems}
    assert "tool bindings not carried over" in found[("tools_function.prompty", 19, 5)]
    assert "input `preferred_unit` is not used by the body" in found[("tools_function.prompty", 22, 1)]
    assert "${env:AZURE_OPENAI_ENDPOINT}" in found[("shakespeare.prompty", 10, 5)]


def test_import_is_idempotent(repo: Path, env: None) -> None:
    first = import_into(repo, "prompty", PROMPTY)
    again = import_into(repo, "prompty", PROMPTY)
    assert again.written == [] and sorted(again.unchanged) == sorted(first.written)


def test_round_trip_loses_nothing_prompty_can_express(repo: Path, env: None, tmp_path: Path) -> None:
    import_into(repo, "prompty", PROMPTY)
    before, after, report = round_trip(repo, "prompty", STEMS, tmp_path)
    assert after == before
    assert sorted(report["written"]) == [f"x/{stem}.prompty" for stem in STEMS]
    # What was exported is a file Prompty itself loads and renders the same way.
    for stem in STEMS:
        exported = tmp_path / "export-prompty" / "x" / f"{stem}.prompty"
        assert SECRET not in exported.read_text(encoding="utf-8")
        prompt = load(repo, f"x/{stem}")
        variables = {i.name: EDGY for i in prompt.inputs}
        assert prompty_file_sends(exported, variables) == prompty_file_sends(PROMPTY / f"{stem}.prompty", variables)


def test_an_array_input_is_exported_with_the_items_prompty_requires(tmp_path: Path) -> None:
    """Prompty 2 loads no array property without `items`; a workbench input names no item type:
    its default's items' kind is written, else string (what the runtime assumes)."""
    from workbench.core.formats.base import ExportedVersion, ExportItem
    from workbench.core.formats.prompty import export
    from workbench.core.model import InputSpec, Message, Prompt

    specs = (InputSpec("tags", "array", default=["a", "b"], has_default=True), InputSpec("rows", "array", default=[{"k": 1}], has_default=True), InputSpec("any", "array", required=True))
    prompt = Prompt("p", "prompts/p.yaml", inputs=specs, messages=(Message("user", "{{ tags | join(',') }} {{ rows | length }} {{ any | length }}"),))
    conversion = export([ExportItem("p", (ExportedVersion(prompt, "0" * 40),))])
    path = tmp_path / "p.prompty"
    path.write_text(conversion.files[0].text, encoding="utf-8")
    assert "items:\n    kind: string" in conversion.files[0].text and "kind: object" in conversion.files[0].text
    assert prompty_file_sends(path, {"any": [1, 2, 3]}) == [{"role": "user", "content": "a,b 1 3"}]
