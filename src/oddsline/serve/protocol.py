"""uvicorn's HTTP protocol with connection hygiene, TCP_NODELAY on every connection, and each response
in one write.

Hygiene: uvicorn keeps a connection open for as long as the client likes while it sends a request's
head or body (it has only an idle timeout *between* requests) and lets llhttp buffer a header line of
any length. A few thousand sockets that send half a request line, or one 2 MB header, are then enough
to exhaust the file descriptors or memory of a worker. Here each request's head must arrive within
``header_timeout`` and its body within ``body_timeout`` of the head (408 and closed otherwise); the
URL, the header count, each header line and the whole head have limits (414 and 431). The head is
counted as it arrives, so a refused one never holds more than its limit plus one read in memory.

asyncio turns Nagle's algorithm off only for sockets whose protocol number is TCP; with several
workers uvicorn hands each process the listening socket by file descriptor, the accepted sockets then
report protocol 0, and Nagle stays on. A response written as headers then body waits for the client's
delayed ACK: 40 ms per request on Linux, at any load. Setting the option here removes that.

With Nagle off, uvicorn's two writes per response (status line and headers, then the body) are two
system calls and two TCP segments, and the client reads twice. The writes of one event-loop turn are
gathered here and written once at its end: the same bytes, in the same order, in one segment.

Admission: the concurrency limit counts a request from the moment its head is parsed to the moment
its response is written, and a request over the limit is answered 503 here, its body discarded as
it arrives: at once, unless its connection came back sooner than the Retry-After of its last 503
(then held, see ``_hold_for``). Counted only inside the app, the limit would not see a queue: the app
scores most requests without yielding to the event loop, so a server flooded by a thousand
connections holds one request "in flight" while the others wait in the loop and the socket
buffers, their latency growing with the crowd. Refused by the app instead, each refusal would cost
a task, a scope and the gate's work (about as much as scoring a small request), and under a flood of
retries those refusals would fill every event-loop turn with the admitted requests waiting behind
them. The app's gate keeps its own count too, for requests this layer does not see (a test client,
a pipelined request, which waits for the one before it and is not counted here).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import socket
import typing
import urllib.parse
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base

from .errors import OVERLOADED
from .settings import CONFIG_ENV, ConnectionLimits, Settings

__all__ = [
    "REFUSAL_REASONS",
    "Admission",
    "NoDelayProtocol",
    "admit_with",
    "on_refusal",
]

# Why a connection was answered by the protocol itself: the label values of the metric that counts them.
REFUSAL_REASONS = ("header_timeout", "body_timeout", "url_too_long", "header_too_large", "bad_request")
_STATUS = {408: b"408 Request Timeout", 414: b"414 URI Too Long", 431: b"431 Request Header Fields Too Large"}
_SHED_BODY = json.dumps({"error": OVERLOADED, "field": None}).encode()
_SHED_HEAD = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: "
    + str(len(_SHED_BODY)).encode()
    + b"\r\nretry-after: 1\r\n"
)
_RETRY_AFTER = 1.0  # seconds, as the 503 says


_limits: ConnectionLimits | None = None
_listener: Callable[[str], None] | None = None
_admission: Admission | None = None
# While requests are being refused (for this long after the last refusal), each admitted answer is
# written as soon as it is complete: see on_response_complete.
_OVERLOAD_SECONDS = 1.0
_last_refusal = -math.inf


class Admission(typing.Protocol):
    """The app's side of admission: its limit, and the metrics of what is refused."""

    def admit(self, method: str, path: str) -> bool | str:
        """True: admitted and counted until ``release()``; False: not subject to the limit (probes,
        scrapes); a string: refused, the request id of the 503 the protocol sends."""
        ...

    def release(self) -> None:
        """An admitted request's response was written, or its connection was lost."""
        ...


def on_refusal(listener: Callable[[str], None] | None) -> None:
    """Call ``listener(reason)`` each time this process's protocol answers or closes a connection itself
    (the app counts them in its metrics; the protocol has no handle on the app's registry)."""
    global _listener
    _listener = listener


def admit_with(admission: Admission | None) -> None:
    """Ask ``admission`` as each request's head completes (the app registers it; the protocol has no
    handle on the app)."""
    global _admission
    _admission = admission


def _connection_limits() -> ConnectionLimits:
    """The limits of the settings ``oddsline serve`` hands its workers (the defaults without them)."""
    global _limits
    if _limits is None:
        raw = os.environ.get(CONFIG_ENV)  # the workers' configuration, from ``oddsline serve``
        _limits = Settings.from_json(json.loads(raw)["settings"]).connection if raw else ConnectionLimits()
    return _limits


class _GatheringTransport:
    """A transport whose writes within one event-loop turn reach the socket as one write."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport
        self._pending: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._pending:
            asyncio.get_running_loop().call_soon(self.flush)
        self._pending.append(data)

    def flush(self) -> None:
        if self._pending:
            data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
            self._pending.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, pause_reading, ...
        return getattr(self._transport, name)


_HEAD, _BODY, _IDLE = "head", "body", "idle"


class _Watch:
    """The head and body deadlines of one event loop's connections, checked by one timer a few times a
    second. A timer per deadline would be two ``call_later`` per request, scheduled and cancelled: the
    cost the request timeouts avoid too (see deadlines.py)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, interval: float) -> None:
        self.loop, self.interval = loop, interval
        self._due: dict[NoDelayProtocol, tuple[float, float, str]] = {}
        self._timer: asyncio.TimerHandle | None = None

    def arm(self, connection: NoDelayProtocol, seconds: float, reason: str) -> None:
        self._due[connection] = (self.loop.time() + seconds, seconds, reason)
        if self._timer is None:
            self._timer = self.loop.call_later(self.interval, self._sweep)

    def disarm(self, connection: NoDelayProtocol) -> None:
        self._due.pop(connection, None)

    def _sweep(self) -> None:
        now = self.loop.time()
        expired = [(c, seconds, reason) for c, (due, seconds, reason) in self._due.items() if due <= now]
        for connection, seconds, reason in expired:
            del self._due[connection]
            try:
                connection.expire(seconds, reason)
            except Exception:  # one connection's failure must not stop the deadlines of all the others
                logging.getLogger("oddsline.serve").exception("closing a connection past its %s failed", reason)
                with contextlib.suppress(Exception):
                    connection.transport.close()
        self._timer = self.loop.call_later(self.interval, self._sweep) if self._due else None


_watches: dict[asyncio.AbstractEventLoop, _Watch] = {}


def _watch_of(loop: asyncio.AbstractEventLoop, limits: ConnectionLimits) -> _Watch:
    watch = _watches.get(loop)
    if watch is None:
        # A deadline is kept to within a quarter of itself, and at least every 0.25 s.
        interval = min(limits.header_timeout / 4, limits.body_timeout / 4, 0.25)
        watch = _watches[loop] = _Watch(loop, interval)
    return watch


class NoDelayProtocol(_Base):  # type: ignore[misc]
    """Per request, the checks cost a few attribute tests: a deadline is armed only when a read ends
    with the head or body incomplete (a request that arrives whole in one read, the common case,
    touches no deadline), and the headers are measured once, when the head is complete."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = _connection_limits()
        self._watch = _watch_of(self.loop, self.limits)
        self._phase = _HEAD  # of the request being read: _HEAD, _BODY, or _IDLE once it is all read
        self._armed: str | None = None  # the reason of the deadline armed, if one is
        self._head_bytes = 0  # bytes read since the request began, while its head is incomplete
        self._read_bytes = 0  # of the read being parsed
        self._refusal: tuple[int, str, str] | None = None  # set by a parser callback that stops the parse
        self._shedding = False  # the request being read was answered 503 here; its body is discarded
        self._admitted = 0  # requests of this connection counted by the admission and not yet answered
        self._shed_answer: bytes | None = None  # the 503 of a refused request, until it is written
        self._shed_close = False  # and the connection closed after it
        self._shed_timer: asyncio.TimerHandle | None = None
        self._shed_request = ("-", "-", "1.1")  # its method, path and HTTP version, for the access log
        self._hold = 0.0  # how long this connection's last refusal was held
        self._last_shed = -math.inf  # and when its 503 was written

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._gathering = _GatheringTransport(transport)
        super().connection_made(self._gathering)  # type: ignore[arg-type]  # a Transport by duck typing
        self._arm("header_timeout")  # a connection that never sends a byte

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._shed_timer is not None:
            self._shed_timer.cancel()
            self._shed_answer = self._shed_timer = None
        self._release(self._admitted)  # its requests will not be answered
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._read_bytes = len(data)
        super().data_received(data)
        phase = self._phase
        if phase is _IDLE:
            if self._armed is not None:
                self._disarm()
            return
        if self._refusal is not None or self.transport.is_closing():
            return
        if phase is _HEAD:
            # The parser has taken all of ``data``: with the head still incomplete, every byte since
            # the request began was head (give or take the previous request's tail in the same read).
            self._head_bytes += len(data)
            if len(self.url or b"") > self.limits.max_url_bytes:
                self._answer(414, "url_too_long", f"the URL is longer than {self.limits.max_url_bytes} bytes")
            elif self._head_bytes > self.limits.max_head_bytes:
                self._answer(431, "header_too_large", self._head_too_large())
            elif self._armed != "header_timeout":
                self._arm("header_timeout")
        elif self._armed != "body_timeout":
            self._arm("body_timeout")

    # Parser callbacks. Raising in one stops the parse; uvicorn then calls send_400_response, which
    # answers the refusal recorded here instead.
    def on_message_begin(self) -> None:
        if self._shed_answer is not None:  # a request after a refused one: answers stay in order
            self._send_shed()
        super().on_message_begin()
        self._phase, self._head_bytes = _HEAD, 0

    def on_headers_complete(self) -> None:
        limits, headers = self.limits, self.headers
        if len(self.url) > limits.max_url_bytes:
            self._stop(414, "url_too_long", f"the URL is longer than {limits.max_url_bytes} bytes")
        if len(headers) > limits.max_headers:
            self._stop(431, "header_too_large", f"more than {limits.max_headers} header fields")
        # A head of at most max_header_bytes in all (the common case: a few hundred bytes in one read)
        # cannot break a size limit; only a longer one is measured line by line.
        if self._head_bytes + self._read_bytes > limits.max_header_bytes:
            self._measure_headers()
        self._phase = _BODY
        if _admission is not None and self._refused(_admission):
            return
        super().on_headers_complete()

    def _refused(self, admission: Admission) -> bool:
        """Whether the request was refused for overload (and answered). A pipelined request waits
        for the one before it: not counted here (the gate counts it when it starts)."""
        if not (self.cycle is None or self.cycle.response_complete):
            return False
        path = self.url.partition(b"?")[0].decode("latin-1")
        if "%" in path:
            path = urllib.parse.unquote(path)
        verdict = admission.admit(self.parser.get_method().decode("latin-1"), path)
        if verdict is True:
            self._admitted += 1
            self._hold = 0.0
            return False
        if verdict is False:
            return False
        self._shedding = True
        global _last_refusal
        _last_refusal = self.loop.time()
        # A client waiting for 100 Continue would not send the body: answered and closed.
        keep_alive = (
            self.parser.get_http_version() != "1.0" and self.parser.should_keep_alive() and not self.expect_100_continue
        )
        self._shed_request = self._request_line()
        self._shed_answer = (
            _SHED_HEAD
            + b"x-request-id: "
            + verdict.encode("latin-1")
            + (b"\r\n\r\n" if keep_alive else b"\r\nconnection: close\r\n\r\n")
            + _SHED_BODY
        )
        self._shed_close = not keep_alive
        hold = self._hold = self._hold_for(self.loop.time())
        if hold > 0:
            self._shed_timer = self.loop.call_later(hold, self._send_shed)
        else:
            self._send_shed()
        return True

    def _hold_for(self, now: float) -> float:
        """How long this refusal's 503 waits. A client told to come back after 1 s (Retry-After) that
        comes back sooner on the same connection (counted from the 503 it got) is held: 10 ms, then
        twice as long each time, up to shed_delay. A crowd that retries as soon as it is refused (load
        generators, clients that ignore Retry-After) otherwise fills every turn of the event loop with
        refusals, each reading and discarding a body, and the admitted requests wait behind them;
        refusals made cheaper only came back faster (docs/operations.md, "Overload"). Held, a
        connection sends nothing until its answer. A first refusal, and one of a client that waited
        as told, is answered at once: a balancer can try another server without delay."""
        if now - self._last_shed >= _RETRY_AFTER or self.limits.shed_delay <= 0:
            return 0.0
        return min(max(2 * self._hold, 0.01), self.limits.shed_delay)

    def _send_shed(self) -> None:
        answer, self._shed_answer = self._shed_answer, None
        if self._shed_timer is not None:
            self._shed_timer.cancel()
            self._shed_timer = None
        if answer is None or self.transport.is_closing():
            return
        self._last_shed = self.loop.time()
        self._log_answer(503, self._shed_request)
        self.transport.write(answer)
        if self._shed_close:
            self.transport.close()
        else:
            self._gathering.flush()  # from a timer, no other answer of this turn to gather it with

    def on_response_complete(self) -> None:
        if self.loop.time() - _last_refusal < _OVERLOAD_SECONDS:
            # Under overload a turn of the event loop is long (it reads and refuses the requests of
            # every connection), and an answer gathered to its end waits for all of them: written now.
            # Otherwise gathered: the end-of-turn write batches the wake-ups of clients, and writing
            # at once cost single-row throughput a quarter (benchmarks/RESULTS.md, session 13).
            self._gathering.flush()
        self._release(1)
        super().on_response_complete()

    def _release(self, count: int) -> None:
        count = min(count, self._admitted)
        self._admitted -= count
        if _admission is not None:
            for _ in range(count):
                _admission.release()

    def on_body(self, body: bytes) -> None:
        if not self._shedding:
            super().on_body(body)

    def _measure_headers(self) -> None:
        limits, headers = self.limits, self.headers
        total = len(self.url)
        for name, value in headers:
            size = len(name) + len(value)
            if size > limits.max_header_bytes:
                detail = f"header {name[:64].decode('latin-1')!r} is longer than {limits.max_header_bytes} bytes"
                self._stop(431, "header_too_large", detail)
            total += size
        if total > limits.max_head_bytes:
            self._stop(431, "header_too_large", self._head_too_large())

    def on_message_complete(self) -> None:
        self._phase = _IDLE
        if self._shedding:
            self._shedding = False
            super().on_response_complete()  # the keep-alive timer; nothing of it was counted
            return
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        if self._refusal is not None:
            status, reason, detail = self._refusal
            self._refusal = None
            self._answer(status, reason, detail)
        else:
            self._count("bad_request")
            super().send_400_response(msg)

    def _stop(self, status: int, reason: str, detail: str) -> None:
        self._refusal = (status, reason, detail)
        raise ValueError(detail)

    def _answer(self, status: int, reason: str, detail: str) -> None:
        """Answer ``status`` with the service's error body and close, unless a response is under way
        or was sent already, the 503 of a shed request whose body is still coming (then only close:
        a second status line would corrupt it, or answer a request twice)."""
        self._disarm()
        self._count(reason)
        if self._shed_answer is not None:  # the refusal comes first, and is the only answer
            self._send_shed()
        if self.transport.is_closing():
            return
        answered = self._shedding or (
            self.cycle is not None and not self.cycle.response_complete and self.cycle.response_started
        )
        if not answered:
            self._log_answer(status, self._request_line())
            body = json.dumps({"error": detail, "field": None}).encode()
            self.transport.write(
                b"HTTP/1.1 " + _STATUS[status] + b"\r\ncontent-type: application/json\r\n"
                b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
            )
        if self.cycle is not None and not self.cycle.response_complete:
            # The app's task stops reading; what it would still send is dropped.
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.close()

    def _request_line(self) -> tuple[str, str, str]:
        """Method, path and HTTP version of the request being read, as far as it arrived."""
        # uvicorn sets ``url`` as a request's line arrives: a connection that sent none has none (and
        # the parser's method and version are then its zero values, DELETE and 0.0: not shown).
        url = getattr(self, "url", None)
        if not url:
            return "-", "-", "1.1"
        try:
            method = self.parser.get_method().decode("latin-1")
            version = self.parser.get_http_version()
        except Exception:  # the request line itself is incomplete or broken
            method, version = "-", "1.1"
        return method, url.decode("latin-1")[:200], version

    def _log_answer(self, status: int, request: tuple[str, str, str]) -> None:
        """The access line (with --access-log) of an answer the HTTP layer gives itself: uvicorn logs
        only the app's answers, and refusals are what an operator looks for in it."""
        if self.access_log and self.access_logger.isEnabledFor(logging.INFO):
            client = f"{self.client[0]}:{self.client[1]}" if self.client else "-"
            method, path, version = request
            self.access_logger.info('%s - "%s %s HTTP/%s" %d', client, method, path, version, status)

    def _arm(self, reason: str) -> None:
        seconds = self.limits.header_timeout if reason == "header_timeout" else self.limits.body_timeout
        self._watch.arm(self, seconds, reason)
        self._armed = reason

    def _disarm(self) -> None:
        self._watch.disarm(self)
        self._armed = None

    def _head_too_large(self) -> str:
        return f"the request head is larger than {self.limits.max_head_bytes} bytes"

    def expire(self, seconds: float, reason: str) -> None:
        part = "head" if reason == "header_timeout" else "body"
        self._answer(408, reason, f"the request's {part} did not arrive within {seconds:g} s")

    @staticmethod
    def _count(reason: str) -> None:
        if _listener is not None:
            _listener(reason)
