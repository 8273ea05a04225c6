"""Helpers the test suite shares, apart from its fixtures (tests/conftest.py): one home, so that tests do not reach
into scripts/ or into one another's modules for them."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A loopback TCP port that nothing listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
