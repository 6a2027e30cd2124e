"""The status bar's line: where you are (repository, branch, working copy), what runs where,
and which model a test run would call."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from workbench.core.config import WorkbenchConfig
from workbench.core.redact import redact_url
from workbench.core.safe_text import clean

if TYPE_CHECKING:
    from workbench.tui.app import WorkbenchApp


def provider_label(
    config: WorkbenchConfig | None, provider: str | None, model: str | None, base_url: str | None
) -> str:
    """The model a test run calls: the app's overrides first, then `workbench.yaml`."""
    provider = provider or (config.provider if config else None) or "echo"
    model = model or (config.model if config else None)
    if provider == "echo":
        return "echo (no model: returns the rendered prompt; set provider in workbench.yaml)"
    if provider == "local":
        return "local · tiny demo model SmolLM2-135M"
    label = f"{provider}/{model}" if model else str(provider)
    shown_url = redact_url(base_url or (config.base_url if config else None))
    return f"{label} @ {shown_url}" if shown_url else label


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
            f"{clean(env)}={clean(v.split('@')[-1])}" for env, v in app.browse.deployed.items()
        )
        bar.append(f" · {deployed or 'not deployed'}")
    bar.append(f" · {clean(app.provider_label())}")
    return bar
