"""The status bar's line: where you are (repository, branch, working copy), what runs where,
and which model a test run would call."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from workbench.core.config import WorkbenchConfig
from workbench.core.model import ModelSpec
from workbench.core.model_choice import model_label, resolve_model
from workbench.core.safe_text import clean
from workbench.services.env_status import serving

if TYPE_CHECKING:
    from workbench.tui.app import WorkbenchApp


def provider_label(
    config: WorkbenchConfig | None, provider: str | None, model: str | None, base_url: str | None
) -> str:
    """The repository's model, as a run of a prompt that names none calls it: the app's
    overrides first, then `workbench.yaml` (a run says what it calls in the Tests pane)."""
    spec = resolve_model(ModelSpec(), config or WorkbenchConfig(), provider=provider, model=model, base_url=base_url)
    label = model_label(spec)
    return f"{label}; set a model in workbench.yaml" if spec.provider == "echo" else label


def status_line(app: WorkbenchApp) -> Text:
    branch, ahead, behind, dirty = app.branch_info
    bar = Text()
    bar.append(f" {clean(app.root.name)} ", style="reverse")
    bar.append(f" ⎇ {clean(branch) if branch else 'detached HEAD'}")
    if ahead or behind:
        bar.append(f" ↑{ahead} ↓{behind}")
    bar.append(f" · {dirty} changed" if dirty else " · clean")
    if app.read_only:
        bar.append(" · READ-ONLY", style="bold")
    if app.arranger.mode != "normal":
        bar.append(f" · zoom {app.arranger.mode} (+ _)", style="bold")
    if app.selected_prompt:  # before the provider: the end of the line is cut when it is too long
        deployed = "  ".join(
            f"{clean(env)}={clean(serving(event, short=True))}" for env, event in app.browse.deployed.items()
        )
        bar.append(f" · {deployed or 'not deployed'}")
    config = app.session.config if app.session else None
    bar.append(f" · {clean(provider_label(config, app.provider_override, app.model_override, app.base_url_override))}")
    return bar
