"""The Git adapter: the only package that imports GitPython.

`workbench.vcs.store.GitStore` wraps one `git.Repo` per session and returns the plain
dataclasses of `workbench.core.versions`, never GitPython objects.
"""
