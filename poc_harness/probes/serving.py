"""Serve an ASGI app with uvicorn in a background thread: the served reference CRM, the webhook receiver."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn

from poc_harness.errors import HarnessError

START_TIMEOUT_S = 10.0


class BackgroundUvicorn:
    """``with BackgroundUvicorn(app) as url:`` serves ``app`` on ``host:port`` (port 0: a free one)."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0, what: str = "the server") -> None:
        self.host = host
        self.what = what
        config = uvicorn.Config(app, host=host, port=port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True, name=f"uvicorn {what}")
        self.port = port

    def __enter__(self) -> str:
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise HarnessError(
                    f"{self.what} did not start on {self.host}:{self.port} within {START_TIMEOUT_S:g} s "
                    "(port taken or address not local?)"
                )
            time.sleep(0.02)
        self.port = self._server.servers[0].sockets[0].getsockname()[1]
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}"

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=START_TIMEOUT_S)
