"""Evaluation engine: providers, assertions, runner, cache, results store, reports."""
