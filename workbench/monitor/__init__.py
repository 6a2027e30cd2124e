"""Production feedback: stamping, recording, ingest and per-version metrics."""
