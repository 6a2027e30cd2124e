"""The prompt domain model: what a prompt file means once parsed and validated.

These are plain frozen dataclasses so that every layer (Git, evals, TUI) can pass them
around, hash them and compare them without caring where they came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

PROMPTS_DIR = "prompts"
PROMPT_SUFFIXES = (".yaml", ".yml")
TESTS_SUFFIXES = (".tests.yaml", ".tests.yml")  # test files referenced with file://, not prompts


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One finding about a file, reported as `path:line:col: message`.

    `line` and `col` are 1-based; 0 means "the whole file" (e.g. unreadable file).
    """

    path: str
    line: int
    col: int
    message: str
    severity: Severity = Severity.ERROR
    hint: str | None = None

    def format(self) -> str:
        """One line for a terminal: file names and messages come from files, so control
        characters are shown as visible symbols (`core.safe_text.clean`)."""
        from workbench.core.safe_text import clean

        where = f"{clean(self.path)}:{self.line}:{self.col}" if self.line > 0 else clean(self.path)  # 0: the whole file
        text = f"{where}: {self.severity.value}: {clean(self.message)}"
        return f"{text} (hint: {clean(self.hint)})" if self.hint else text

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "line": self.line,
            "col": self.col,
            "severity": self.severity.value,
            "message": self.message,
            "hint": self.hint,
        }


@dataclass(frozen=True)
class ModelSpec:
    provider: str | None = None  # None: the repository default (workbench.yaml), else echo
    name: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class InputSpec:
    name: str
    type: str = "string"  # string | number | integer | boolean | array | object
    required: bool = False
    default: Any = None
    has_default: bool = False
    description: str | None = None
    enum: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class Message:
    role: str  # system | user | assistant
    content: str


@dataclass(frozen=True)
class Assertion:
    """One promptfoo-style assertion. `type` keeps a `not-` prefix if present."""

    type: str
    value: Any = None
    threshold: float | None = None
    weight: float = 1.0
    metric: str | None = None
    provider: Any = None  # grader/embedding provider for model-graded assertions
    line: int = 0
    transform: str | None = None  # promptfoo `transform`: rewrites the output for this assertion only
    children: tuple[Assertion, ...] = ()  # the `assert` list of an `assert-set`

    @property
    def negated(self) -> bool:
        return self.type.startswith("not-")

    @property
    def base_type(self) -> str:
        return self.type[4:] if self.negated else self.type


@dataclass(frozen=True)
class TestCase:
    """One test case: variables plus assertions (defaultTest already merged in)."""

    __test__ = False  # not a pytest class

    description: str
    vars: dict[str, Any] = field(default_factory=dict)
    asserts: tuple[Assertion, ...] = ()
    threshold: float | None = None
    index: int = 0
    line: int = 0
    transform: str | None = None  # promptfoo `options.transform`: rewrites the output before every assertion

    @property
    def case_id(self) -> str:
        """Stable identifier used to pair cases across versions (A/B) and shards."""
        return self.description or f"case-{self.index + 1}"


@dataclass(frozen=True)
class Partial:
    """A template file a prompt includes (`core.partials`): its path and its text at the
    prompt's revision."""

    path: str  # prompts/shared/policy.jinja
    source: str = field(default="", compare=True)

    @property
    def name(self) -> str:
        """The name templates use for it: its path under prompts/ (`shared/policy.jinja`)."""
        return self.path[len(PROMPTS_DIR) + 1 :]


@dataclass(frozen=True)
class Prompt:
    """A parsed, valid prompt file.

    `name` is the path under `prompts/` without extension unless the file overrides it.
    Exactly one of `messages` (chat) and `template` (completion) is set.
    """

    name: str
    path: str  # repo-relative path, e.g. prompts/support/summarize.yaml
    description: str | None = None
    owner: str | None = None
    tags: tuple[str, ...] = ()
    model: ModelSpec = field(default_factory=ModelSpec)
    inputs: tuple[InputSpec, ...] = ()
    messages: tuple[Message, ...] = ()
    template: str | None = None
    tests: tuple[TestCase, ...] = ()
    # OpenAI's shapes, sent as they are: function tools, tool_choice, response_format.
    tools: tuple[dict[str, Any], ...] = field(default=(), compare=False, hash=False)
    tool_choice: Any = field(default=None, compare=False, hash=False)
    response_format: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    partials: tuple[Partial, ...] = ()  # every partial its templates include, transitively
    raw: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    source: str = field(default="", compare=False, hash=False)  # the file text

    @property
    def is_chat(self) -> bool:
        return self.template is None

    @property
    def tool_names(self) -> tuple[str, ...]:
        return tuple(str((t.get("function") or {}).get("name", "")) for t in self.tools if isinstance(t, dict))

    @property
    def response_schema(self) -> Any:
        """The JSON Schema every answer must match (`response_format: {type: json_schema}`), or None."""
        if not isinstance(self.response_format, dict) or self.response_format.get("type") != "json_schema":
            return None
        spec = self.response_format.get("json_schema")
        return spec.get("schema") if isinstance(spec, dict) else None

    def input(self, name: str) -> InputSpec | None:
        return next((spec for spec in self.inputs if spec.name == name), None)


def prompt_name_from_path(path: str) -> str:
    """`prompts/support/summarize.yaml` -> `support/summarize`.

    `path` is a repository path ('/' between folders, as Git and the discovery give it). A
    backslash is kept: read as a separator, `prompts/a\\b.yaml` was listed and validated as the
    prompt `a/b`, which no command could address; kept, the name breaks `core.names`' rule.
    """
    rel = path
    prefix = PROMPTS_DIR + "/"
    if rel.startswith(prefix):
        rel = rel[len(prefix) :]
    for suffix in PROMPT_SUFFIXES:
        if rel.endswith(suffix):
            return rel[: -len(suffix)]
    return rel


def is_prompt_path(path: str) -> bool:
    """The one rule for which files are prompts: `prompts/**/*.yaml|yml`, except tests files
    (`*.tests.yaml`) and anything hidden (a file or folder whose name starts with a dot, such
    as `prompts/.drafts/`). Discovery in the working copy, at a commit, and in status all use it.
    """
    # A repository path: a backslash is part of a name, not a separator (`prompt_name_from_path`).
    if not path.startswith(PROMPTS_DIR + "/") or not path.endswith(PROMPT_SUFFIXES) or path.endswith(TESTS_SUFFIXES):
        return False
    return "/." not in path


@dataclass(frozen=True)
class LoadResult:
    """The outcome of loading one file: a prompt when it is valid, and every problem found."""

    path: str
    prompt: Prompt | None
    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return self.prompt is not None and not any(p.severity is Severity.ERROR for p in self.problems)

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity is Severity.ERROR)


def prompt_file_text(data: bytes, path: str) -> str | LoadResult:
    """The text of the prompt file `path` holding `data`, or the failed load that says why it has
    none. The one decision of what a file that is not UTF-8 is: `validate` said `0:0: not UTF-8
    text`, `test` the decoder's words, and a committed copy (decoded with replacement
    characters) was `invalid YAML` in the app and the API. The position is the first bad byte's."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line_start = data.rfind(b"\n", 0, err.start) + 1
        line = data.count(b"\n", 0, err.start) + 1
        col = len(data[line_start : err.start].decode("utf-8")) + 1
        message = f"not UTF-8 text (byte 0x{data[err.start]:02x} cannot be read as UTF-8)"
        hint = "save the file as UTF-8 text: a prompt file is YAML"
        return LoadResult(path, None, (Problem(path, line, col, message, Severity.ERROR, hint),))
