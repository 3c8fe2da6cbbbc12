"""A reference CRM that degrades under concurrent load, as only the load probe's concurrent users see it: one
caller at a time (the scenario suites) never does, so the suites stay fast and the defects are the scale
checks' alone.

- ``contention_ms`` (the ``slow_api`` profile): every other request in flight when one arrives adds
  ``contention_ms`` to its answer, as a CRM serialising on a shared lock would; ``contention_methods``
  limits it to some methods (writes only: slow on one path).
- ``serial_ms``: a request arriving while others are in flight waits its turn at one worker that takes
  ``serial_ms`` per request (throughput capped at 1000 / ``serial_ms`` requests/s).
- ``overload`` from ``overload_at`` requests in flight: every ``overload_every``-th request arriving
  then answers 503 without ``Retry-After`` (``"503"``) or is held ``slow_seconds``, past the client's
  timeout (``"hang"``).
"""

from __future__ import annotations

import itertools
import time

import anyio
from fastapi.responses import JSONResponse

from poc_harness.sandbox.faults import SPARED, ASGIApp, Message, Receive, Send
from poc_harness.sandbox.profiles import Profile


class Contention:
    """ASGI middleware: the profile's degradation under concurrent load (module docstring)."""

    def __init__(self, app: ASGIApp, profile: Profile) -> None:
        self.app = app
        self.profile = profile
        self.delay_s = profile.contention_ms / 1000
        self.serial_s = profile.serial_ms / 1000
        self.free_at = 0.0  # when the one worker of ``serial_ms`` is free again (monotonic seconds)
        self.overloaded = itertools.count(1)
        self.in_flight = 0

    def _degrades(self) -> bool:
        p = self.profile
        return bool(self.delay_s or self.serial_s or (p.overload and p.overload_at))

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in SPARED or not self._degrades():
            return await self.app(scope, receive, send)
        others = self.in_flight
        self.in_flight += 1
        try:
            if not await self._degrade(scope, others, receive, send):
                await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _degrade(self, scope: Message, others: int, receive: Receive, send: Send) -> bool:
        """Delay the request as the profile says; True when it answered it already (an overload 503)."""
        p = self.profile
        methods = p.contention_methods
        if others and self.delay_s and (not methods or scope["method"] in methods):
            await anyio.sleep(others * self.delay_s)
        if others and self.serial_s:
            now = time.monotonic()
            self.free_at = max(now, self.free_at) + self.serial_s
            await anyio.sleep(self.free_at - now)
        if not (p.overload and p.overload_at and others + 1 >= p.overload_at):
            return False
        if next(self.overloaded) % p.overload_every:
            return False
        if p.overload == "503":
            await JSONResponse({"error": "overloaded"}, status_code=503)(scope, receive, send)
            return True
        await anyio.sleep(p.slow_seconds)  # "hang": the client gives up long before
        return False
