"""moto's server app on loopback, behind a request handler that keeps HTTP/1.1 connections open.

moto's `ThreadedMotoServer` serves with werkzeug's development server, which closes the connection after
every response ("Always close the connection. This disables HTTP/1.1 keep-alive connections", werkzeug 3.1
`serving.py`) and then waits on a selector for the client to hang up. Every AWS request of every worker and
poller therefore costs a TCP connect, a new server thread, a selector and a close, in the one process that
hosts moto, the pollers and the HTTP API. py-spy on the runtime under the `/label` load (2026-12-02): a third
of moto's request threads' samples were that (writing the headers of a closing response, building and
closing selectors, shutting sockets down, starting threads), beside 40 % in moto's DynamoDB handlers.

`KeepAliveRequestHandler` runs the same app (moto's `DomainDispatcherApplication`, and moto's own handler's
header handling, `MotoRequestHandler.make_environ`) but answers a request that carries its body with a
`Content-Length` (every request the AWS SDKs make to these JSON and query services) on a connection that
stays open, as HTTP/1.1 defines ("HTTP/1.1", RFC 9112 §9.3 Persistence, https://www.rfc-editor.org/rfc/rfc9112
#section-9.3: "HTTP/1.1 defaults to the use of persistent connections"), the response in one write with its
own `Content-Length` and TCP_NODELAY set, so that no response waits on a delayed ACK. Anything else (a chunked
or `Expect: 100-continue` upload, a client that asks to close) goes through werkzeug's own path, which closes
the connection as before. An idle connection is closed after `IDLE_TIMEOUT_S`; botocore's pool reconnects.
"""

from __future__ import annotations

import io
import logging
import socket
import threading
from typing import TYPE_CHECKING, Any, Final

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

if TYPE_CHECKING:
    from werkzeug.serving import BaseWSGIServer

#: Seconds an idle keep-alive connection is kept; then its server thread ends (StreamRequestHandler.timeout).
IDLE_TIMEOUT_S: Final = 60.0
#: Hop-by-hop headers the handler sets itself (RFC 9110 §7.6.1); the app's own are dropped.
_OWN_HEADERS: Final = frozenset({"content-length", "connection", "transfer-encoding", "keep-alive"})

logger = logging.getLogger("switchboard.local")


class KeepAliveRequestHandler(MotoRequestHandler):
    """werkzeug's request handler for moto, with persistent connections (see the module docstring)."""

    protocol_version = "HTTP/1.1"
    timeout = IDLE_TIMEOUT_S

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def run_wsgi(self) -> None:
        length = self.headers.get("Content-Length")
        if (
            self.headers.get("Transfer-Encoding")
            or self.headers.get("Expect")
            or self.headers.get("Connection", "").lower() == "close"
            or self.command == "HEAD"
            or (length is None and self.command not in ("GET", "DELETE", "OPTIONS"))
            or (length is not None and not length.isdigit())
        ):
            super().run_wsgi()  # werkzeug's path: it closes the connection
            return
        body = self.rfile.read(int(length or 0))
        environ = self.make_environ()
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        self.environ = environ
        started: dict[str, Any] = {}

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started["status"], started["headers"] = status, headers
            return lambda data: chunks.append(data)

        chunks: list[bytes] = []
        try:
            result = self.server.app(environ, start_response)
            try:
                chunks.extend(result)
            finally:
                if hasattr(result, "close"):
                    result.close()
        except Exception:  # as werkzeug does: a 500, the error in the server's log
            logger.exception("moto: error on request %s %s", self.command, self.path)
            started = {"status": "500 Internal Server Error", "headers": [("Content-Type", "text/plain")]}
            chunks = [b"Internal Server Error"]
        code, _, reason = str(started["status"]).partition(" ")
        status = int(code)
        bodiless = status < 200 or status in (204, 304)  # no body and no Content-Length (RFC 9110 §8.6)
        payload = b"" if bodiless else b"".join(chunks)
        self.send_response(status, reason)
        for name, value in started["headers"]:
            if name.lower() not in _OWN_HEADERS:
                self.send_header(name, value)
        if not bodiless:
            self.send_header("Content-Length", str(len(payload)))
        self._headers_buffer.append(b"\r\n" + payload)  # the headers and the body: one write
        self.flush_headers()

    def log_error(self, format: str, *args: Any) -> None:  # http.server's signature
        if format != "Request timed out: %r":  # an idle keep-alive connection closed: not an error
            super().log_error(format, *args)


class MotoServer:
    """moto's server app on ``host`` (port 0: a free one) in a thread of this process, keep-alive."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server: BaseWSGIServer = make_server(
            host,
            port,
            DomainDispatcherApplication(create_backend_app),
            threaded=True,
            request_handler=KeepAliveRequestHandler,
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto", daemon=True)

    def start(self) -> MotoServer:
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def stop(self) -> None:
        """Stop serving and close the listening socket (open connections end with their threads)."""
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()
