"""The Git adapter: the only package that imports GitPython."""
