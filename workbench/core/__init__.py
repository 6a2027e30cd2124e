"""Pure domain: prompt model, parsing and validation with positions, rendering, diffs, statistics."""
