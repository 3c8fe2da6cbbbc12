"""A reference CRM that slows down under concurrent load (the ``slow_api`` profile): every other request
in flight when one arrives adds ``profile.contention_ms`` to its answer, as a CRM serialising on a shared
lock would.  One caller at a time sees no delay, so the scenario suites stay fast; the load probe's
concurrent users see their latency grow with their number."""

from __future__ import annotations

import anyio

from poc_harness.sandbox.faults import SPARED, ASGIApp, Message, Receive, Send
from poc_harness.sandbox.profiles import Profile


class Contention:
    """ASGI middleware: delays each API answer by ``contention_ms`` × the other requests in flight."""

    def __init__(self, app: ASGIApp, profile: Profile) -> None:
        self.app = app
        self.delay_s = profile.contention_ms / 1000
        self.in_flight = 0

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.delay_s or scope["path"] in SPARED:
            return await self.app(scope, receive, send)
        others = self.in_flight
        self.in_flight += 1
        try:
            if others:
                await anyio.sleep(others * self.delay_s)
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
