"""A real smart-HTTP Git server on 127.0.0.1 (git's own `git http-backend`) behind Basic auth.

For the remote paths that carry credentials in the URL (`http://user:password@host/...`):
push, fetch, and the server's failures. `mode` scripts the answer to every request:
"ok" (serve the repositories under `root`), "deny" (401 whatever was sent), or a status
such as "500"; a failure's body repeats the request's Authorization header and the password,
as a careless server would, and git prints it as `remote: ...` lines.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote


class GitHttpServer:
    def __init__(self, root: Path, user: str, password: str) -> None:
        self.root = root
        self.user = user
        self.password = password
        self.mode = "ok"
        self.requests = 0
        self._server: ThreadingHTTPServer | None = None

    def url(self, repo: str, password: str | None = None) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        secret = quote(self.password if password is None else password, safe="")
        return f"http://{self.user}:{secret}@{host}:{port}/{repo}"

    def __enter__(self) -> GitHttpServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._answer()

            def do_POST(self) -> None:
                self._answer()

            def _answer(self) -> None:
                server.requests += 1
                auth = self.headers.get("Authorization", "")
                expected = "Basic " + base64.b64encode(f"{server.user}:{server.password}".encode()).decode()
                if server.mode == "ok" and auth == expected:
                    self._backend()
                    return
                status = 401 if server.mode in ("ok", "deny") else int(server.mode)
                body = f"refused {auth!r} for {server.user}:{server.password} at {self.path}\n".encode()
                self.send_response(status)
                if status == 401:
                    self.send_header("WWW-Authenticate", 'Basic realm="git"')
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _backend(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length) if length else b""
                path, _, query = self.path.partition("?")
                env = dict(
                    os.environ,
                    GIT_PROJECT_ROOT=str(server.root),
                    GIT_HTTP_EXPORT_ALL="1",
                    REQUEST_METHOD=self.command,
                    PATH_INFO=path,
                    QUERY_STRING=query,
                    CONTENT_TYPE=self.headers.get("Content-Type", ""),
                    CONTENT_LENGTH=str(len(data)),
                    REMOTE_USER=server.user,
                    REMOTE_ADDR="127.0.0.1",
                    HTTP_CONTENT_ENCODING=self.headers.get("Content-Encoding", ""),
                    HTTP_GIT_PROTOCOL=self.headers.get("Git-Protocol", ""),
                )
                out = subprocess.run(["git", "http-backend"], input=data, env=env, capture_output=True, check=False).stdout
                head, _, body = out.partition(b"\r\n\r\n")
                status = 200
                headers = []
                for line in head.decode("latin-1").split("\r\n"):
                    name, _, value = line.partition(": ")
                    if name.lower() == "status":
                        status = int(value.split()[0])
                    elif name:
                        headers.append((name, value))
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
