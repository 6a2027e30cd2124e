"""Renderers shared by panes, dialogs and screens: data in, `rich.text.Text` out."""
