"""What a prompt file may make a run do: the allow-lists a repository or a CI job pins.

A prompt file chooses its provider, its endpoint (`base_url`) and the environment variable
its key is read from (`api_key_env`). In CI that means a pull request can send any secret
of the job to a host of its choosing, or run its own code (`python:` providers, `python`
assertions). The allow-lists below close that, each one only when it is set:

| setting (workbench.yaml) | environment (CI) | what it pins |
| --- | --- | --- |
| `allowed_providers` | `WORKBENCH_ALLOWED_PROVIDERS` | provider names (`openai`, `local`, `echo`, `python:module:function`; `*` patterns, e.g. `python:checks.*`) |
| `allowed_hosts` | `WORKBENCH_ALLOWED_HOSTS` | hosts an `openai` endpoint may be at (`api.openai.com`, `*.openai.azure.com`, `localhost:8080`); no `base_url` means `api.openai.com` |
| `allowed_key_envs` | `WORKBENCH_ALLOWED_KEY_ENVS` | environment variables a key may be read from |
| `allow_python_assertions` | `WORKBENCH_ALLOW_PYTHON_ASSERTIONS` (`0`/`1`) | whether `python` assertions (inline code or `file://`) run |

Environment values are comma-separated. workbench.yaml is part of the repository, so a pull
request can edit it: CI should pin through the environment, set where pull requests cannot
change it (the CI's protected variables). When both are set, both apply: a provider must be
allowed by each list that is set.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from urllib.parse import urlsplit

from workbench.core.config import WorkbenchConfig
from workbench.core.model import ModelSpec

DEFAULT_OPENAI_HOST = "api.openai.com"
ENV_PROVIDERS = "WORKBENCH_ALLOWED_PROVIDERS"
ENV_HOSTS = "WORKBENCH_ALLOWED_HOSTS"
ENV_KEY_ENVS = "WORKBENCH_ALLOWED_KEY_ENVS"
ENV_PYTHON_ASSERTIONS = "WORKBENCH_ALLOW_PYTHON_ASSERTIONS"


@dataclass(frozen=True)
class AllowList:
    """One list of allowed patterns and where it was set (for the error message)."""

    patterns: tuple[str, ...]
    source: str  # "allowed_hosts in workbench.yaml" or "WORKBENCH_ALLOWED_HOSTS"

    def allows(self, value: str) -> bool:
        return any(fnmatchcase(value, pattern) for pattern in self.patterns)


@dataclass(frozen=True)
class TrustPolicy:
    """Every allow-list in force (None: not pinned). Build it with `policy_for`."""

    providers: tuple[str, ...] | None = None
    hosts: tuple[str, ...] | None = None
    key_envs: tuple[str, ...] | None = None
    python_assertions: bool = True
    extra: tuple[tuple[str, AllowList], ...] = ()  # ("providers" | "hosts" | "key_envs", list) from the environment
    python_assertions_source: str = "allow_python_assertions in workbench.yaml"

    def _lists(self, kind: str) -> list[AllowList]:
        own = {"providers": self.providers, "hosts": self.hosts, "key_envs": self.key_envs}[kind]
        lists = [AllowList(tuple(own), f"allowed_{kind} in workbench.yaml")] if own is not None else []
        return lists + [allow for k, allow in self.extra if k == kind]

    def problem(self, spec: ModelSpec) -> str | None:
        """Why a run may not use `spec` (a resolved model), or None when it may."""
        provider = spec.provider or "echo"
        for allow in self._lists("providers"):
            if not allow.allows(provider):
                return f"provider {provider!r} is not allowed here: {_listed(allow)}"
        if provider != "openai":
            return None
        host = endpoint_host(spec.base_url)
        for allow in self._lists("hosts"):
            if not _host_allowed(allow, spec.base_url):
                return f"endpoint {host} is not allowed here: {_listed(allow)}"
        key_env = spec.api_key_env or ("OPENAI_API_KEY" if not spec.base_url else None)
        if key_env is not None:
            for allow in self._lists("key_envs"):
                if not allow.allows(key_env):
                    return f"reading the key from ${key_env} is not allowed here: {_listed(allow)}"
        return None

    def sources(self) -> list[str]:
        """Where the lists in force were set (for hints)."""
        return [allow.source for kind in ("providers", "hosts", "key_envs") for allow in self._lists(kind)]


def _listed(allow: AllowList) -> str:
    shown = ", ".join(allow.patterns) if allow.patterns else "nothing"
    return f"{allow.source} allows {shown}"


def endpoint_host(base_url: str | None) -> str:
    """`host` or `host:port` of an endpoint; the default OpenAI endpoint when None."""
    if not base_url:
        return DEFAULT_OPENAI_HOST
    try:
        parts = urlsplit(base_url if "://" in base_url else f"//{base_url}")
        host = (parts.hostname or "").lower()
        return f"{host}:{parts.port}" if parts.port else host
    except ValueError:
        return base_url


def _host_allowed(allow: AllowList, base_url: str | None) -> bool:
    host_port = endpoint_host(base_url)
    host = host_port.rsplit(":", 1)[0] if ":" in host_port and not host_port.endswith("]") else host_port
    for pattern in allow.patterns:
        pattern = pattern.lower()
        if fnmatchcase(host_port, pattern) or (":" not in pattern and fnmatchcase(host, pattern)):
            return True
    return False


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def policy_for(config: WorkbenchConfig, environ: Mapping[str, str]) -> TrustPolicy:
    """The allow-lists of a repository's configuration plus those pinned in the environment."""
    extra: list[tuple[str, AllowList]] = []
    for kind, name in (("providers", ENV_PROVIDERS), ("hosts", ENV_HOSTS), ("key_envs", ENV_KEY_ENVS)):
        if environ.get(name) is not None:
            extra.append((kind, AllowList(_split(environ[name]), name)))
    python_assertions = config.allow_python_assertions
    source = "allow_python_assertions in workbench.yaml"
    flag = environ.get(ENV_PYTHON_ASSERTIONS)
    if flag is not None and flag.strip().lower() in ("0", "false", "no", "off"):
        python_assertions, source = False, f"{ENV_PYTHON_ASSERTIONS}={flag}"
    return TrustPolicy(
        providers=config.allowed_providers,
        hosts=config.allowed_hosts,
        key_envs=config.allowed_key_envs,
        python_assertions=python_assertions,
        extra=tuple(extra),
        python_assertions_source=source,
    )


__all__ = ["TrustPolicy", "endpoint_host", "policy_for"]
