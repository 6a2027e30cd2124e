"""Sizes the recorder writes within and ingest holds to: one place, no imports (the serving
application's recorder loads nothing more)."""

MAX_LINE_BYTES = 1 << 20  # 1 MiB per event line: a recorded event is under 200 KB (8 text fields, each capped, ≤ 12 JSON bytes a character)
MAX_TEXT_CHARS = 2000  # error and feedback text kept per event: a 150 MB error string was stored whole; the recorder caps call ids and identity fields to it too
