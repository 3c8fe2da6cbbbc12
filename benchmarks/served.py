"""The reference CRM served by uvicorn on a loopback port in a process of its own, for the benchmarks
(client and server then each get a core of a 2-core machine)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served_crm(token: str, profile: str = "healthy") -> Iterator[str]:
    """Yield the URL of a freshly started reference CRM; stop it on exit."""
    port = _free_port()
    code = f"from poc_harness.sandbox.server import serve; serve('127.0.0.1', {port}, {profile!r}, {token!r})"
    server = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{url}/health", timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("the reference CRM did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)
