"""Free loopback ports for tests that start servers (never the defaults 8100, 9324, 8124, 3000)."""

from __future__ import annotations

import socket

REGION_OFFSETS = (1, 2, 3)  # `sandbox up` (regions by default) serves NA, EU and FE on the Amazon port + 1, 2, 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def sandbox_ports(*extra: str) -> dict[str, int]:
    """Ports for `sandbox up` / `demo`: an Amazon port whose next three are free too, then SQS, X3 and any
    `extra` names (e.g. "ui"), none of them inside the Amazon block."""
    for _ in range(100):
        amazon = free_port()
        block = {amazon + i for i in (0, *REGION_OFFSETS)}
        if amazon + max(REGION_OFFSETS) > 65535 or not all(port_free(amazon + i) for i in REGION_OFFSETS):
            continue
        ports = {"amazon": amazon}
        for name in ("sqs", "x3", *extra):
            port = free_port()
            while port in block or port in ports.values():
                port = free_port()
            ports[name] = port
        return ports
    raise RuntimeError("no block of four free consecutive loopback ports")
