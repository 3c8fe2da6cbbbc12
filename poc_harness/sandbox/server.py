"""Serve the reference CRM on a loopback port with uvicorn (``poc-harness sandbox serve``)."""

from __future__ import annotations

import uvicorn

from poc_harness.probes.serving import BackgroundUvicorn
from poc_harness.sandbox.app import create_app


def serve(host: str, port: int, profile: str, token: str) -> None:
    """Run in the foreground until interrupted."""
    uvicorn.run(create_app(profile, token), host=host, port=port, log_level="warning")


class BackgroundServer(BackgroundUvicorn):
    """The reference CRM on 127.0.0.1 in a thread: for tests that want a real socket."""

    def __init__(self, profile: str = "healthy", token: str = "sandbox-token", port: int = 0) -> None:
        super().__init__(create_app(profile, token), port=port, what="the reference CRM")
