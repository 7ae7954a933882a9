"""The local HTTP API reads every request within bounds, over raw sockets on loopback.

A partial body, a huge declared ``Content-Length``, a chunk size of ``-1`` or duplicate ``Content-Length``
headers once held a connection (and its thread) for ever or were accepted. Now: 400 for malformed framing,
413 for a declared length over the limit before any of the body is read, 408 (and a closed connection) when
the body does not arrive in time. Each test takes a second or two at most: the server runs with short
timeouts.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from email.message import Message
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tools.local.functions import InvokeResult
from tools.local.http_api import (
    MAX_PAYLOAD_BYTES,
    ApiServer,
    FramingError,
    PayloadTooLargeError,
    Route,
    body_framing,
)

READ_TIMEOUT = 0.4
BODY_DEADLINE = 1.2
#: The longest a test waits for an answer: well past the server's bounds, far short of "for ever".
PATIENCE = 4.0


class NoControl:
    def schedule_summaries(self) -> list[dict[str, Any]]:
        return []

    def fire_schedule(self, name: str) -> list[InvokeResult]:
        raise KeyError(name)


@pytest.fixture(scope="module")
def server() -> Iterator[ApiServer]:
    def echo(function: str, event: Any) -> InvokeResult:
        return InvokeResult(function, "r-1", {"statusCode": 200, "body": event.get("body", "")})

    api = ApiServer(
        ("127.0.0.1", 0),
        routes=[Route("POST /echo", "Echo")],
        invoke=echo,
        control=NoControl(),
        api_id="local",
        read_timeout=READ_TIMEOUT,
        body_deadline=BODY_DEADLINE,
    )
    thread = threading.Thread(target=api.serve_forever, daemon=True)
    thread.start()
    yield api
    api.shutdown()
    api.server_close()
    thread.join(timeout=5)


def exchange(server: ApiServer, raw: bytes) -> tuple[bytes, float]:
    """Send ``raw``, read until the server closes; the answer and how long it took. Fails if the server
    still holds the connection after ``PATIENCE`` seconds."""
    host, port = server.server_address[:2]
    started = time.monotonic()
    with socket.create_connection((str(host), port), timeout=PATIENCE) as sock:
        sock.sendall(raw)
        received = b""
        while True:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                pytest.fail(f"the server held the connection for {PATIENCE}s: {received[:200]!r}")
            except ConnectionResetError:
                break
            if not data:
                break
            received += data
    return received, time.monotonic() - started


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def post(headers: str, body: bytes = b"") -> bytes:
    return f"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}".encode() + b"\r\n" + body


def test_a_well_framed_request_is_answered_and_the_connection_kept(server: ApiServer) -> None:
    one = post("Content-Length: 5\r\n", b"hello")
    two = post("Transfer-Encoding: chunked\r\n", b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n")
    last = post("Content-Length: 2\r\nConnection: close\r\n", b"ok")
    answer, _ = exchange(server, one + two + last)
    assert answer.count(b"HTTP/1.1 200 ") == 3
    assert b"hello" in answer and b"abcde" in answer and answer.endswith(b"ok")


def test_a_partial_body_is_408_within_the_read_timeout(server: ApiServer) -> None:
    answer, took = exchange(server, post("Content-Length: 100\r\n", b"only ten.."))
    assert status_of(answer) == 408
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1]) == {"message": "Request Timeout"}
    assert took < BODY_DEADLINE + 1


def test_a_body_dripped_slower_than_the_deadline_is_408(server: ApiServer) -> None:
    host, port = server.server_address[:2]
    started = time.monotonic()
    with socket.create_connection((str(host), port), timeout=PATIENCE) as sock:
        sock.sendall(post("Content-Length: 1000\r\n"))
        answer = b""
        sock.settimeout(READ_TIMEOUT / 2)
        while time.monotonic() - started < PATIENCE:
            try:
                sock.sendall(b"x")  # each byte within the read timeout: only the deadline stops it
                answer += sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if answer:
                break
    assert status_of(answer) == 408
    assert time.monotonic() - started < BODY_DEADLINE + 1.5


def test_a_stalled_chunked_body_is_408(server: ApiServer) -> None:
    answer, _ = exchange(server, post("Transfer-Encoding: chunked\r\n", b"10\r\nonly part"))
    assert status_of(answer) == 408


@pytest.mark.parametrize("length", [str(10**20), str(MAX_PAYLOAD_BYTES + 1), "9" * 400])
def test_a_declared_length_over_the_limit_is_413_before_the_body_is_read(
    server: ApiServer, length: str
) -> None:
    answer, took = exchange(server, post(f"Content-Length: {length}\r\n"))
    assert status_of(answer) == 413
    assert json.loads(answer.split(b"\r\n\r\n", 1)[1]) == {"message": "Request Entity Too Large"}
    assert took < BODY_DEADLINE + 1


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        ("Transfer-Encoding: chunked\r\n", b"-1\r\n"),
        ("Transfer-Encoding: chunked\r\n", b"zz\r\nab\r\n0\r\n\r\n"),
        ("Transfer-Encoding: chunked\r\n", b"0x3\r\nabc\r\n0\r\n\r\n"),
        ("Transfer-Encoding: chunked\r\n", b"\r\n"),
        ("Transfer-Encoding: chunked\r\n", b"3\r\nabcXX0\r\n\r\n"),
        ("Transfer-Encoding: chunked\r\n", b"1" * 20_000 + b"\r\n"),
        ("Transfer-Encoding: gzip, chunked\r\n", b"0\r\n\r\n"),
        ("Transfer-Encoding: identity\r\n", b""),
        ("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n", b"0\r\n\r\n"),
        ("Content-Length: 5\r\nContent-Length: 5\r\n", b"hello"),
        ("Content-Length: 5\r\nContent-Length: 6\r\n", b"hello!"),
        ("Content-Length: 5, 5\r\n", b"hello"),
        ("Content-Length: -1\r\n", b""),
        ("Content-Length: +5\r\n", b"hello"),
        ("Content-Length: 0x5\r\n", b"hello"),
        ("Content-Length: 5 5\r\n", b"hello"),
        ("Content-Length: \r\n", b""),
    ],
)
def test_malformed_framing_is_400_and_the_connection_is_closed(
    server: ApiServer, headers: str, body: bytes
) -> None:
    answer, took = exchange(server, post(headers, body) + post("Content-Length: 2\r\n", b"ok"))
    assert status_of(answer) == 400
    assert answer.count(b"HTTP/1.1 ") == 1  # nothing after it is read as another request (no smuggling)
    assert took < BODY_DEADLINE + 1


def test_a_chunked_body_over_the_limit_is_413(server: ApiServer) -> None:
    answer, _ = exchange(
        server, post("Transfer-Encoding: chunked\r\n", f"{MAX_PAYLOAD_BYTES + 1:x}\r\n".encode())
    )
    assert status_of(answer) == 413


def test_a_request_whose_headers_never_end_is_closed(server: ApiServer) -> None:
    answer, took = exchange(server, b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Partial: ")
    assert answer == b"" or status_of(answer) in (400, 408)
    assert took < READ_TIMEOUT + 1.5


def test_an_idle_connection_is_closed_after_the_read_timeout(server: ApiServer) -> None:
    answer, took = exchange(server, b"")
    assert answer == b"" and took < READ_TIMEOUT + 1.5


# -- the framing rules, without a socket ---------------------------------------------------------------------


def headers_of(*pairs: tuple[str, str]) -> Message:
    message = Message()
    for name, value in pairs:
        message[name] = value
    return message


@settings(max_examples=300, deadline=None)
@given(value=st.text(max_size=30))
def test_a_content_length_is_one_run_of_digits_within_the_limit(value: str) -> None:
    headers = headers_of(("Content-Length", value))
    digits = value.strip()
    if digits.isascii() and digits.isdigit():
        if int(digits) > MAX_PAYLOAD_BYTES:
            with pytest.raises(PayloadTooLargeError):
                body_framing(headers)
        else:
            assert body_framing(headers).length == int(digits)
    else:
        with pytest.raises(FramingError):
            body_framing(headers)


@settings(max_examples=100, deadline=None)
@given(values=st.lists(st.integers(0, 100).map(str), min_size=2, max_size=4))
def test_more_than_one_content_length_is_refused_even_when_they_agree(values: list[str]) -> None:
    with pytest.raises(FramingError):
        body_framing(headers_of(*(("Content-Length", value) for value in values)))


# -- a request dripped slowly: one deadline for the request line, the headers and the body -------------------


@pytest.fixture(scope="module")
def strict() -> Iterator[ApiServer]:
    """A server whose whole-request deadline is shorter than its body deadline, to see the former act."""

    def echo(function: str, event: Any) -> InvokeResult:
        return InvokeResult(function, "r-1", {"statusCode": 200, "body": event.get("body", "")})

    api = ApiServer(
        ("127.0.0.1", 0),
        routes=[Route("POST /echo", "Echo")],
        invoke=echo,
        control=NoControl(),
        api_id="local",
        read_timeout=READ_TIMEOUT,
        body_deadline=10 * BODY_DEADLINE,
        request_deadline=BODY_DEADLINE,
    )
    thread = threading.Thread(target=api.serve_forever, daemon=True)
    thread.start()
    yield api
    api.shutdown()
    api.server_close()
    thread.join(timeout=5)


HEAD = b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Long: " + b"a" * 200 + b"\r\nContent-Length: 2\r\n\r\nok"


@pytest.mark.parametrize(
    "where",
    [
        "request line",  # the request line itself dripped
        "headers",  # the request line at once, the headers dripped
        "body",  # line and headers at once, the body dripped (the request's deadline, not the body's)
    ],
)
def test_a_request_dripped_within_every_read_timeout_is_408_at_its_deadline(
    strict: ApiServer, where: str
) -> None:
    cut = {"request line": 0, "headers": HEAD.index(b"\r\n") + 2, "body": HEAD.index(b"\r\n\r\n") + 4}[where]
    raw = HEAD if where != "body" else HEAD.replace(b"Content-Length: 2", b"Content-Length: 400") + b"x" * 398
    host, port = strict.server_address[:2]
    started = time.monotonic()
    with socket.create_connection((str(host), port), timeout=PATIENCE) as sock:
        sock.sendall(raw[:cut])
        sock.settimeout(READ_TIMEOUT / 4)
        answer = b""
        for byte in raw[cut:]:
            if time.monotonic() - started > PATIENCE:
                pytest.fail(f"the server held a dripping {where} for {PATIENCE}s")
            try:
                sock.sendall(bytes([byte]))
                answer += sock.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if answer:
                break
    took = time.monotonic() - started
    assert status_of(answer) == 408, answer[:200]
    assert BODY_DEADLINE - 0.2 < took < BODY_DEADLINE + 1.0


@given(st.integers(1, 60), st.floats(0.0, 0.01))
@settings(max_examples=8, deadline=None)
def test_a_request_that_arrives_in_time_in_pieces_is_answered(pieces: int, pause: float) -> None:
    """The request line, headers and body in ``pieces`` pieces, within the deadline (at most 60 pieces
    0.01 s apart): answered 200."""
    # the module's server (the fixture cannot be used with given): one of its own
    api = ApiServer(
        ("127.0.0.1", 0),
        routes=[Route("POST /echo", "Echo")],
        invoke=lambda function, event: InvokeResult(function, "r", {"statusCode": 200, "body": "x"}),
        control=NoControl(),
        api_id="local",
        read_timeout=READ_TIMEOUT,
        request_deadline=BODY_DEADLINE,
    )
    thread = threading.Thread(target=api.serve_forever, daemon=True)
    thread.start()
    try:
        raw = HEAD.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
        size = max(1, len(raw) // pieces)
        host, port = api.server_address[:2]
        with socket.create_connection((str(host), port), timeout=PATIENCE) as sock:
            for start in range(0, len(raw), size):
                sock.sendall(raw[start : start + size])
                time.sleep(pause)
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert status_of(answer) == 200
    finally:
        api.shutdown()
        api.server_close()
        thread.join(timeout=5)
