"""Shared by the multi-process tests: a free loopback port, and joining a gloo group as one of
``world`` processes started by ``torch.multiprocessing`` (what torchrun's environment gives)."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator

from kexue import parallel


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def member(rank: int, world: int, port: int) -> Iterator[bool]:
    """Be rank ``rank`` of ``world`` for the body (gloo on the loopback); yields whether several
    processes take part. The group is left afterwards."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank),
                      WORLD_SIZE=str(world), LOCAL_RANK=str(rank), GLOO_SOCKET_IFNAME="lo")
    with parallel.session() as several:
        assert parallel.world() == ((rank, world) if world > 1 else (0, 1))
        yield several
