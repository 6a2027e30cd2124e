"""The runtime loader for serving applications: `PromptRepo(path).get(name, env="prod")`.

A public API, not a use case of the app or the CLI: it reads Git objects directly (works on a
bare clone) and imports neither the services nor the evaluation engine.
"""

from workbench.runtime.prompt_repo import LoadedPrompt, PromptIdentity, PromptRepo, RenderedMessages

__all__ = ["LoadedPrompt", "PromptIdentity", "PromptRepo", "RenderedMessages"]
