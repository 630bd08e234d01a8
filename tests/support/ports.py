"""A local port that refuses connections, for "endpoint unreachable" tests.

Servers in the suite bind port 0 and report the port they got; nothing else needs a free
port. The one remaining need is an address where nothing answers: the port stays bound (not
listening) for the whole block, so a connection is refused and no other process can start
listening there meanwhile, unlike a port found free and released again.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["refused_port"]


@contextmanager
def refused_port() -> Iterator[int]:
    """A port on 127.0.0.1, held bound without listening until the block ends."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]
