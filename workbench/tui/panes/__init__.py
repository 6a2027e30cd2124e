"""The four panes of the main screen (and the monitor pane)."""
