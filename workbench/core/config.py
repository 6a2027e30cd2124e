"""`workbench.yaml`: the repository's settings, all optional, validated like a prompt file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workbench.core.model import Problem, Severity
from workbench.core.policy import EnvPolicy, parse_duration
from workbench.core.run_limits import MAX_CONCURRENCY as MAX_CONCURRENCY
from workbench.core.schema import schema_problems
from workbench.core.yamlpos import YamlDocument, YamlSyntaxError, parse_yaml

CONFIG_FILE = "workbench.yaml"
DEFAULT_ENVIRONMENTS = ("dev", "staging", "prod")


@dataclass(frozen=True)
class WorkbenchConfig:
    environments: tuple[str, ...] = DEFAULT_ENVIRONMENTS
    """Deployment stages in promotion order: each one is compared with the one before it."""
    policies: dict[str, EnvPolicy] = field(default_factory=dict)
    """The promotion policy of each guarded environment (environments without rules are absent)."""
    main_branch: str = "main"
    provider: str | None = None
    """Default provider for prompts whose file leaves `model.provider` unset (else `echo`)."""
    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    concurrency: int = 8
    timeout_s: float = 60.0
    max_attempts: int = 8
    keymap: dict[str, str] = field(default_factory=dict)
    allowed_providers: tuple[str, ...] | None = None
    """Provider names runs may use (`*` patterns); None: any. See `core.trust`."""
    allowed_hosts: tuple[str, ...] | None = None
    """Hosts an openai endpoint may be at (`*` patterns, optional `:port`); None: any."""
    allowed_key_envs: tuple[str, ...] | None = None
    """Environment variables a key may be read from; None: any."""
    allow_python_assertions: bool = True
    """Whether `python` assertions (code from prompt files) run."""


def parse_config(text: str, path: str = CONFIG_FILE, *, schema_passed: bool = False) -> tuple[WorkbenchConfig, list[Problem]]:
    """The configuration in `text` and every problem found; defaults where it is invalid.

    `schema_passed`: this exact text is known to pass the JSON Schema (the schema gives errors
    only, so the result is the same without the check, and without importing jsonschema).
    """
    try:
        doc = parse_yaml(text)
    except YamlSyntaxError as err:
        return WorkbenchConfig(), [Problem(path, err.line, err.col, err.message)]
    problems = [
        Problem(path, pos.line, pos.col, f"duplicate key '{dup[-1]}' (first defined at line {first.line})")
        for dup, pos, first in doc.duplicates
    ]
    if doc.value is None:
        return WorkbenchConfig(), problems
    if not isinstance(doc.value, dict):
        return WorkbenchConfig(), [*problems, Problem(path, 1, 1, "workbench.yaml must be a YAML mapping")]
    if not schema_passed:
        problems.extend(schema_problems(doc, path, "workbench"))
    environments, policies, env_problems = _environments(doc, path)
    problems.extend(env_problems)
    if any(p.severity is Severity.ERROR for p in problems):
        return WorkbenchConfig(), problems
    data = doc.value
    model = data.get("model") or {}
    config = WorkbenchConfig(
        environments=environments,
        policies=policies,
        main_branch=data.get("main_branch", "main"),
        provider=model.get("provider"),
        model=model.get("name"),
        base_url=model.get("base_url"),
        api_key_env=model.get("api_key_env"),
        parameters=dict(model.get("parameters") or {}),
        concurrency=int(data.get("concurrency", 8)),
        timeout_s=float(data.get("timeout_s", 60.0)),
        max_attempts=int(data.get("max_attempts", 8)),
        keymap=dict(data.get("keymap") or {}),
        allowed_providers=_strings(data.get("allowed_providers")),
        allowed_hosts=_strings(data.get("allowed_hosts")),
        allowed_key_envs=_strings(data.get("allowed_key_envs")),
        allow_python_assertions=bool(data.get("allow_python_assertions", True)),
    )
    return config, problems


def _environments(doc: YamlDocument, path: str) -> tuple[tuple[str, ...], dict[str, EnvPolicy], list[Problem]]:
    """Environment names in order, their policies, and what the schema cannot check."""
    items = doc.value.get("environments") or list(DEFAULT_ENVIRONMENTS)
    if not isinstance(items, list) or not all(isinstance(i, str) or (isinstance(i, dict) and isinstance(i.get("name"), str)) for i in items):
        return DEFAULT_ENVIRONMENTS, {}, []  # the schema already said what is wrong
    names = [item if isinstance(item, str) else str(item["name"]) for item in items]
    problems: list[Problem] = []
    policies: dict[str, EnvPolicy] = {}

    def problem(index: int, key: str | None, message: str, hint: str | None = None) -> None:
        where: tuple[str | int, ...] = ("environments", index) if key is None else ("environments", index, key)
        pos = doc.where(where)
        problems.append(Problem(path, pos.line, pos.col, message, Severity.ERROR, hint))

    for index, (name, item) in enumerate(zip(names, items, strict=True)):
        if name in names[:index]:
            problem(index, None if isinstance(item, str) else "name", f"environment {name!r} is listed twice")
        if isinstance(item, str):
            continue
        source = item.get("from")
        if source is not None and source not in names:
            problem(index, "from", f"environments[{index}].from: {source!r} is not an environment", "from names another environment of this list")
        elif source == name:
            problem(index, "from", f"environments[{index}].from: {name} cannot require itself", "name the stage before it")
        soak = parse_duration(str(item["soak"])) if item.get("soak") is not None else None
        if item.get("soak") is not None and soak is None:
            problem(index, "soak", f"environments[{index}].soak: {item['soak']!r} is not a duration", "e.g. 30m, 1h, 2d, 1h30m")
        if soak is not None and source is None:
            problem(index, "soak", f"environments[{index}].soak needs `from`: where must the version have run?", "add from: <the stage before it>")
        policy = EnvPolicy(
            env=name,
            from_env=source,
            require_tests=item.get("require_tests"),
            soak=soak,
            soak_text=str(item["soak"]) if soak is not None else None,
            approvals=item["approvals"] if isinstance(item.get("approvals"), int) else 0,
        )
        if not policy.empty:
            policies[name] = policy
    return tuple(names), policies, problems


def _strings(value: object) -> tuple[str, ...] | None:
    return tuple(str(v) for v in value) if isinstance(value, list) else None
