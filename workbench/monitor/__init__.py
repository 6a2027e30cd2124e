"""Production feedback: stamp each model call with the prompt version it used.

    from workbench import PromptRepo, monitor
    prompt = PromptRepo(".").get("support/summarize", env="prod", key=user_id)
    call = monitor.record(prompt, latency_ms=..., input_tokens=..., output_tokens=..., error=None)
    monitor.record_feedback(call, feedback="up")

Then `workbench monitor ingest .workbench/events/*.jsonl` and `workbench monitor NAME`.
"""

from workbench.monitor.recorder import Recorder, configure, flush, identity_of, record, record_feedback

__all__ = ["Recorder", "configure", "flush", "identity_of", "record", "record_feedback"]
