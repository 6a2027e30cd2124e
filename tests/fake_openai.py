"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions protocol.

Tests and benchmarks point the real SDK at it and script its behaviour per request:
latency, 429 with or without Retry-After, 5xx, malformed JSON, a connection dropped
mid-response, 401, quota exhausted; plain and streamed (SSE) answers with `usage`, tool calls
and logprobs (streamed as OpenAI sends them: tool-call deltas by index, arguments in
fragments), a stream that ends in an error event; and /v1/embeddings.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default backlog of 5 drops bursts of new connections (1 s SYN retry)
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away (a cancelled run, a timeout) is expected, not a traceback.
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


Behaviour = str  # "ok" | "429" | "429:<seconds>" | "500" | "503" | "malformed" | "drop" | "401" | "quota" | "slow:<seconds>"
# | "echo-headers" (answers with the request's headers) | "echo-headers-<status>" (an error body that repeats them)
# | "stream-error" (a streamed answer: one content chunk, then an error event, as a server sends mid-stream)
# | "stream-cut" (a streamed answer whose body ends after one content chunk: no finish reason, no usage, no [DONE])


@dataclass
class FakeOpenAI:
    """Behaviour per request: `script` is consumed first, then `fault_rate` picks from `faults`."""

    reply: Callable[[dict[str, Any]], str] = lambda body: "OK: " + str(body["messages"][-1]["content"])[:200]
    latency_s: float = 0.0
    script: list[Behaviour] = field(default_factory=list)
    fault_rate: float = 0.0
    faults: tuple[Behaviour, ...] = ("500",)
    seed: int = 1
    requests: int = 0
    completed: int = 0
    bodies: list[dict[str, Any]] = field(default_factory=list)
    tool_calls: Callable[[dict[str, Any]], list[dict[str, Any]] | None] | None = None  # answer with tool calls
    raw_body: str | None = None  # answer every completion with this body, as JSON (malformed answers)
    in_flight: int = 0
    max_in_flight: int = 0  # the most requests the server was answering at once
    # One entry per request: what it asked (last message), how it was answered, when.
    log: list[dict[str, Any]] = field(default_factory=list)
    tls: ssl.SSLContext | None = None  # serve https with this server-side context
    port: int = 0  # 0: any free port; a given one serves where a stopped server was (a restart)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(self.seed)
        self._server: ThreadingHTTPServer | None = None
        self._connections: set[socket.socket] = set()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"{'https' if self.tls else 'http'}://{host}:{port}/v1"

    def next_behaviour(self) -> Behaviour:
        with self._lock:
            self.requests += 1
            if self.script:
                return self.script.pop(0)
            if self.fault_rate and self._rng.random() < self.fault_rate:
                return self._rng.choice(self.faults)
            return "ok"

    def __enter__(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall
            _entry: dict[str, Any] | None = None

            def log_message(self, *args: Any) -> None:
                return

            def setup(self) -> None:
                super().setup()
                with fake._lock:
                    fake._connections.add(self.connection)

            def finish(self) -> None:
                with fake._lock:
                    fake._connections.discard(self.connection)
                super().finish()

            def _send(self, status: int, payload: bytes, headers: dict[str, str] | None = None, content_type: str = "application/json") -> None:
                self._answered()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(payload)

            def _error(self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None) -> None:
                body = {"error": {"message": message, "type": "error", "code": code}}
                self._send(status, json.dumps(body).encode(), headers)

            def do_GET(self) -> None:
                if self.path.endswith("/stats"):
                    stats = {"requests": fake.requests, "completed": fake.completed, "max_in_flight": fake.max_in_flight}
                    return self._send(200, json.dumps(stats).encode())
                if self.path.endswith("/log"):
                    with fake._lock:
                        return self._send(200, json.dumps(fake.log).encode())
                return self._error(404, "not found")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with fake._lock:
                    fake.bodies.append(body)
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                behaviour = fake.next_behaviour()
                messages = body.get("messages") or [{}]
                self._entry = {"content": str(messages[-1].get("content", body.get("input", ""))), "behaviour": behaviour, "start": time.monotonic()}
                try:
                    self._answer(body, behaviour)
                finally:
                    self._answered()

            def _answered(self) -> None:
                """The answer starts going out: the request no longer counts as in flight."""
                entry, self._entry = self._entry, None
                if entry is not None:
                    entry["end"] = time.monotonic()
                    with fake._lock:
                        fake.in_flight -= 1
                        fake.log.append(entry)

            def _answer(self, body: dict[str, Any], behaviour: Behaviour) -> None:
                if fake.latency_s:
                    time.sleep(fake.latency_s)
                if behaviour.startswith("slow:"):
                    time.sleep(float(behaviour.split(":", 1)[1]))
                    behaviour = "ok"
                if behaviour == "429":
                    return self._error(429, "Rate limit reached", "rate_limit_exceeded")
                if behaviour.startswith("429:"):
                    return self._error(429, "Rate limit reached", "rate_limit_exceeded", {"Retry-After": behaviour.split(":", 1)[1]})
                if behaviour in ("500", "502", "503"):
                    return self._error(int(behaviour), "The server had an error")
                if behaviour == "401":
                    return self._error(401, "Incorrect API key provided", "invalid_api_key")
                if behaviour.startswith("echo-headers-"):  # a careless server: its error body repeats the request's headers
                    status = int(behaviour.rsplit("-", 1)[1])
                    return self._error(status, f"Incorrect API key provided. Request was: {self.command} {self.path} {dict(self.headers)}", "invalid_api_key")
                if behaviour == "echo-headers":  # ... or its answer does
                    text = f"headers: {dict(self.headers)}"
                    payload = {"id": "x", "object": "chat.completion", "created": 0, "model": body.get("model"), "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}]}
                    return self._send(200, json.dumps(payload).encode())
                if behaviour == "quota":
                    return self._error(429, "You exceeded your current quota", "insufficient_quota")
                if behaviour == "malformed":
                    return self._send(200, b'{"id": "x", "choices": [ {"message": ')
                if behaviour == "drop":
                    self._answered()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "500")
                    self.end_headers()
                    self.wfile.write(b'{"id": "chatcmpl-1", "object": "chat.com')
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return None
                if self.path.endswith("/embeddings"):
                    inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
                    data = [{"object": "embedding", "index": i, "embedding": _embed(text)} for i, text in enumerate(inputs)]
                    payload = {"object": "list", "data": data, "model": body.get("model"), "usage": {"prompt_tokens": 1, "total_tokens": 1}}
                    with fake._lock:
                        fake.completed += 1
                    return self._send(200, json.dumps(payload).encode())
                if fake.raw_body is not None:
                    with fake._lock:
                        fake.completed += 1
                    return self._send(200, fake.raw_body.encode())
                text = fake.reply(body)
                # Like a real endpoint, the answer stops at max_tokens (a word is a token here).
                limit = body.get("max_tokens") or body.get("max_completion_tokens")
                finish = "stop"
                if isinstance(limit, int) and len(text.split(" ")) > limit:
                    text, finish = " ".join(text.split(" ")[:limit]), "length"
                prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
                usage = {"prompt_tokens": prompt_tokens, "completion_tokens": len(text.split()), "total_tokens": prompt_tokens + len(text.split())}
                with fake._lock:
                    fake.completed += 1
                calls = fake.tool_calls(body) if fake.tool_calls else None
                if body.get("stream"):
                    return self._stream(body, text, usage, finish, calls, error=behaviour == "stream-error", cut=behaviour == "stream-cut")
                message: dict[str, Any] = {"role": "assistant", "content": text}
                if calls:
                    message = {"role": "assistant", "content": None, "tool_calls": calls}
                choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": "tool_calls" if calls else finish}
                if body.get("logprobs"):  # one entry per word, logprob -0.1 * position
                    choice["logprobs"] = {"content": [{"token": w, "logprob": -0.1 * (i + 1), "bytes": None, "top_logprobs": []} for i, w in enumerate(text.split())]}
                payload = {
                    "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": body.get("model"),
                    "choices": [choice],
                    "usage": usage,
                }
                return self._send(200, json.dumps(payload).encode())

            def _stream(
                self, body: dict[str, Any], text: str, usage: dict[str, int], finish: str = "stop",
                calls: list[dict[str, Any]] | None = None, *, error: bool = False, cut: bool = False,
            ) -> None:
                self._answered()
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()

                def chunk(data: dict[str, Any] | str) -> None:
                    raw = ("data: " + (data if isinstance(data, str) else json.dumps(data)) + "\n\n").encode()
                    self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
                    self.wfile.flush()

                def delta(fields: dict[str, Any], **extra: Any) -> None:
                    chunk({**base, "choices": [{"index": 0, "delta": fields, "finish_reason": None, **extra}]})

                base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0, "model": body.get("model")}
                if calls:  # as OpenAI streams them: id, type and name first, then the arguments in fragments
                    delta({"role": "assistant", "content": None})
                    for index, call in enumerate(calls):
                        arguments = call["function"]["arguments"]
                        head = {"index": index, "id": call["id"], "type": call["type"], "function": {"name": call["function"]["name"], "arguments": ""}}
                        delta({"tool_calls": [head]})
                        for start in range(0, len(arguments), 5):
                            delta({"tool_calls": [{"index": index, "function": {"arguments": arguments[start : start + 5]}}]})
                    finish = "tool_calls"
                else:
                    words = text.split(" ")
                    tokens = 0  # the logprobs of the plain answer, each sent with the piece its word is in
                    for position, word in enumerate(words):
                        piece = word + " " if position < len(words) - 1 else word
                        entries = [{"token": w, "logprob": -0.1 * (tokens + i + 1), "bytes": None, "top_logprobs": []} for i, w in enumerate(piece.split())]
                        tokens += len(entries)
                        delta({"content": piece}, **({"logprobs": {"content": entries}} if body.get("logprobs") and entries else {}))
                        if error:
                            chunk({"error": {"message": "server overloaded", "type": "server_error"}})
                            break
                        if cut:  # the body ends cleanly here, as a proxy or a crashed server leaves it
                            self.wfile.write(b"0\r\n\r\n")
                            self.wfile.flush()
                            return
                chunk({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
                if (body.get("stream_options") or {}).get("include_usage"):
                    chunk({**base, "choices": [], "usage": usage})
                chunk("[DONE]")
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

        self._server = _Server(("127.0.0.1", self.port), Handler)
        if self.tls is not None:
            self._server.socket = self.tls.wrap_socket(self._server.socket, server_side=True)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
        # A stopped server drops its kept-alive connections too: a client must connect again.
        with self._lock:
            open_connections, self._connections = set(self._connections), set()
        for connection in open_connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


def serve_forever_in_this_process(latency_s: float, fault_rate: float, faults: tuple[str, ...], seed: int) -> None:
    """Entry point for benchmarks: run the server in its own process (no shared GIL) and print its URL."""
    import sys

    with FakeOpenAI(latency_s=latency_s, fault_rate=fault_rate, faults=faults, seed=seed) as server:
        print(server.base_url, flush=True)
        sys.stdin.read()  # until the parent closes our stdin


def _embed(text: str, dims: int = 32) -> list[float]:
    vector = [0.0] * dims
    for word in str(text).lower().split():
        vector[sum(map(ord, word)) % dims] += 1.0
    return vector


def self_signed_certificate(folder: Path) -> tuple[Path, Path]:
    """(key, certificate) for 127.0.0.1, in `folder`: a certificate no trusted bundle holds."""
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return key, cert
