"""Modal screens and dialogs."""
