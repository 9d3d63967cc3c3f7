"""`SandboxServer`: the sandbox app on a real localhost socket (stdlib `ThreadingHTTPServer`).

Each HTTP request becomes an `httpx.Request`, goes through `SandboxApp.handle`, and the
response is written back. Server mode is where `FaultConfig.latency` really sleeps and
where an injected dropped connection really closes the socket without a response.

Example::

    with SandboxServer(build_sandbox(seed=7)) as server:
        display_base = server.base_url                     # http://127.0.0.1:54321
        business_base = server.business_base_url           # .../open_api/v1.3
"""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

import httpx

from tiktok_etl.sandbox.app import SandboxApp
from tiktok_etl.sandbox.faults import DroppedConnection

_HOP_BY_HOP = {"connection", "content-length", "transfer-encoding", "keep-alive"}


def _handler_class(app: SandboxApp) -> type[BaseHTTPRequestHandler]:
    class SandboxRequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # headers and body are two writes: with Nagle on, each answer waited ~40 ms for an ACK
        disable_nagle_algorithm = True
        server_version = "tiktok-etl-sandbox"

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            host = self.headers.get("host") or "127.0.0.1"
            request = httpx.Request(
                self.command,
                f"http://{host}{self.path}",
                headers=list(self.headers.items()),
                content=body,
            )
            latency = app.faults.latency
            if latency and not request.url.path.startswith("/sandbox/"):
                time.sleep(latency)
            try:
                response = app.handle(request)
            except DroppedConnection:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            content = response.content
            self.send_response(response.status_code)
            for name, value in response.headers.multi_items():
                if name.lower() not in _HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("content-length", str(len(content)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(content)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the sandbox keeps counters (`/sandbox/stats`) instead of access logs."""

    return SandboxRequestHandler


class SandboxServer:
    """Serve a `SandboxApp` on `host:port` (port 0 picks a free one)."""

    def __init__(self, app: SandboxApp, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self._httpd = ThreadingHTTPServer((host, port), _handler_class(app))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """The Display API base URL (and the admin routes' host)."""
        return f"http://{self.host}:{self.port}"

    @property
    def business_base_url(self) -> str:
        return self.base_url + self.app.business_prefix.rstrip("/")

    def start(self) -> SandboxServer:
        """Serve on a background daemon thread."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="tiktok-sandbox",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve on the calling thread until `stop()` or KeyboardInterrupt (for the CLI)."""
        try:
            self._httpd.serve_forever()
        finally:
            self._httpd.server_close()

    def stop(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
