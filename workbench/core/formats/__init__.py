"""Foreign prompt formats converted into workbench prompt files (`workbench import FORMAT`).

A format is a pure function from a source (the file's text plus a callback that reads the
files it references) to the workbench files to write and the problems met on the way, each
naming the source file, line and field. Reading and writing files is the service's job
(`workbench.services.importing`); nothing here touches the disk.

FORMATS is the registry the command reads; promptfoo is the first entry, and GitHub Models,
Prompty, Dotprompt and Langfuse join it the same way (issue 15): add a module with a
`convert(source) -> Conversion` function and register a `Format` for it.
"""

from __future__ import annotations

from workbench.core.formats import dotprompt, github_models, langfuse, promptfoo, prompty
from workbench.core.formats.base import (
    Conversion,
    ExportedVersion,
    ExportItem,
    Format,
    OutputFile,
    ReadFile,
    Source,
    SourceVersion,
    dump_yaml,
)

FORMATS: dict[str, Format] = {
    "promptfoo": Format(
        "promptfoo",
        "a promptfoo config (promptfooconfig.yaml): prompts, providers, tests, defaultTest",
        ("promptfooconfig.yaml", "promptfooconfig.yml", "promptfooconfig.json"),
        promptfoo.convert,
    ),
    "github-models": Format(
        "github-models",
        "GitHub Models prompt files (*.prompt.yml, run by `gh models eval`): messages, model, testData, evaluators",
        ("*.prompt.yml", "*.prompt.yaml"),
        github_models.convert,
        export=github_models.export,
        suffixes=(".prompt.yml", ".prompt.yaml"),
    ),
    "prompty": Format(
        "prompty",
        "Prompty files (*.prompty, versions 1 and 2): front matter (model, inputs, sample, outputs, tools) and a Jinja body with role markers",
        ("*.prompty",),
        prompty.convert,
        export=prompty.export,
        suffixes=(".prompty",),
    ),
    "dotprompt": Format(
        "dotprompt",
        "Dotprompt files (*.prompt): front matter (model, config, input/output Picoschema, toolDefs) and a Handlebars body; `_name.prompt` partials",
        ("*.prompt",),
        dotprompt.convert,
        export=dotprompt.export,
        suffixes=(".prompt",),
    ),
    "langfuse": Format(
        "langfuse",
        "Langfuse prompts as its API returns them (JSON, one object per version, with labels): each version a commit, each label a deployment",
        ("langfuse-prompts.json",),
        langfuse.convert,
        export=langfuse.export,
        history=True,
        export_history=True,
    ),
}


def formats() -> dict[str, Format]:
    """Every format `workbench import` knows, by name."""
    return FORMATS


__all__ = [
    "FORMATS",
    "Conversion",
    "ExportItem",
    "ExportedVersion",
    "Format",
    "OutputFile",
    "ReadFile",
    "Source",
    "SourceVersion",
    "dump_yaml",
    "formats",
]
