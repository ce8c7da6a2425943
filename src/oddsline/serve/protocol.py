"""uvicorn's HTTP protocol with TCP_NODELAY set on every connection and each response in one write.

asyncio turns Nagle's algorithm off only for sockets whose protocol number is TCP; with several
workers uvicorn hands each process the listening socket by file descriptor, the accepted sockets then
report protocol 0, and Nagle stays on. A response written as headers then body waits for the client's
delayed ACK: 40 ms per request on Linux, at any load. Setting the option here removes that.

With Nagle off, uvicorn's two writes per response (status line and headers, then the body) are two
system calls and two TCP segments, and the client reads twice. The writes of one event-loop turn are
gathered here and written once at its end: the same bytes, in the same order, in one segment.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base
except ImportError:  # httptools not installed: the pure-Python h11 parser
    from uvicorn.protocols.http.h11_impl import H11Protocol as _Base  # type: ignore[assignment]

__all__ = ["NoDelayProtocol"]


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


class NoDelayProtocol(_Base):  # type: ignore[misc,valid-type]
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(_GatheringTransport(transport))
