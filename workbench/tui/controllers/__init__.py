"""One controller per context (lazygit's `controllers/`): each owns its flows.

A flow is one linear coroutine run as a worker: it asks with `await ask(Dialog(...))`,
calls services with `await call(service_fn, ...)` (the one way off the UI thread, under the
session lock, errors reported), and ends by posting `RepoChanged`.
"""
