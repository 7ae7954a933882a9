"""A loopback HTTP server on a daemon thread, for the local stand-ins (the recording sink, the Messages API
stand-in) and the tests' fault proxy: start it, read its URL, stop it (idempotent)."""

from __future__ import annotations

import threading
from http.server import HTTPServer


class ServerThread:
    def __init__(self, server: HTTPServer, name: str, poll_interval: float = 0.1) -> None:
        self.server: HTTPServer | None = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": poll_interval}, name=name, daemon=True
        )

    def start(self) -> ServerThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Refuse new requests, close the socket and wait (5 s at most) for the serving thread."""
        if self.server is None:
            return
        if self._thread.is_alive():
            self.server.shutdown()
        self.server.server_close()
        self.server = None
        self._thread.join(5)

    @property
    def url(self) -> str:
        if self.server is None:
            raise RuntimeError("the server is not running")
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"
