"""uvicorn's HTTP protocol with TCP_NODELAY set on every connection.

asyncio turns Nagle's algorithm off only for sockets whose protocol number is TCP; with several
workers uvicorn hands each process the listening socket by file descriptor, the accepted sockets then
report protocol 0, and Nagle stays on. A response written as headers then body waits for the client's
delayed ACK: 40 ms per request on Linux, at any load. Setting the option here removes that.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _Base
except ImportError:  # httptools not installed: the pure-Python h11 parser
    from uvicorn.protocols.http.h11_impl import H11Protocol as _Base  # type: ignore[assignment]

__all__ = ["NoDelayProtocol"]


class NoDelayProtocol(_Base):  # type: ignore[misc,valid-type]
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
