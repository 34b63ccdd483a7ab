"""Serve a Sandbox over HTTP with werkzeug's threaded server, in a background thread."""

from __future__ import annotations

import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from sandbox.api import create_app
from sandbox.core import Sandbox


class QuietHandler(WSGIRequestHandler):
    """One access-log line per request would drown test and benchmark output."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None

    def log(self, type: str, message: str, *args: Any) -> None:
        if type == "error":
            super().log(type, message, *args)


class SandboxServer:
    """A started sandbox: `base_url`, `sandbox` (the state), `stop()`."""

    def __init__(self, sandbox: Sandbox, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sandbox = sandbox
        self.app = create_app(sandbox)
        self.server: BaseWSGIServer = make_server(
            host, port, self.app, threaded=True, request_handler=QuietHandler
        )
        self.server.daemon_threads = True  # type: ignore[attr-defined]
        self.host = host
        self.port = int(self.server.server_port)
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> SandboxServer:
        self.sandbox.start()
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="sandbox-http", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self.sandbox.start()
        try:
            self.server.serve_forever()
        finally:
            self.sandbox.stop()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self.sandbox.stop()
