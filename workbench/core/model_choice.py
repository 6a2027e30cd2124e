"""Which model a run calls, and the one way it is named: the CLI's rows, the app's status bar
and Tests pane, the stored results and the git notes all say it with `model_label`."""

from __future__ import annotations

from workbench.core.config import WorkbenchConfig
from workbench.core.model import ModelSpec
from workbench.core.redact import redact_url

ECHO_LABEL = "echo (returns the rendered prompt)"
LOCAL_LABEL = "local (tiny demo model SmolLM2-135M)"


def resolve_model(spec: ModelSpec, config: WorkbenchConfig, *, provider: str | None = None, model: str | None = None, base_url: str | None = None) -> ModelSpec:
    """The model a run uses: command-line override, else the prompt file, else workbench.yaml, else echo."""
    chosen = provider or spec.provider or config.provider or "echo"
    same_provider = chosen == (spec.provider or config.provider)
    parameters = {**config.parameters, **spec.parameters}
    return ModelSpec(
        provider=chosen,
        name=model or spec.name or (config.model if same_provider or spec.provider is None else None),
        base_url=base_url or spec.base_url or (config.base_url if same_provider else None),
        api_key_env=spec.api_key_env or config.api_key_env,
        parameters=parameters,
    )


def model_label(spec: ModelSpec) -> str:
    """`openai/gpt-4o-mini at https://host/v1` (the endpoint's secrets redacted: labels reach the
    store, reports and git notes), the echo and local labels, or a python provider's target."""
    provider = spec.provider or "echo"
    if provider == "echo":
        return ECHO_LABEL
    if provider == "local":
        return LOCAL_LABEL
    if provider == "openai":
        shown_url = redact_url(spec.base_url)
        return f"openai/{spec.name}" + (f" at {shown_url}" if shown_url else "")
    return provider
