"""Serve the reference CRM on a loopback port with uvicorn (``poc-harness sandbox serve``)."""

from __future__ import annotations

import threading
import time

import uvicorn

from poc_harness.sandbox.app import create_app


def serve(host: str, port: int, profile: str, token: str) -> None:
    """Run in the foreground until interrupted."""
    uvicorn.run(create_app(profile, token), host=host, port=port, log_level="warning")


class BackgroundServer:
    """The reference CRM on 127.0.0.1 in a thread: for tests that want a real socket."""

    def __init__(self, profile: str = "healthy", token: str = "sandbox-token", port: int = 0) -> None:
        config = uvicorn.Config(create_app(profile, token), host="127.0.0.1", port=port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> str:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the reference CRM did not start within 10 s")
            time.sleep(0.02)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
