"""Fault injection for the reference CRM: a profile's failures on every n-th API call.

A pure ASGI middleware, so it can fail the way a real server does, below HTTP: besides
429/503 with ``Retry-After``, 500s and garbage instead of JSON, it can answer too late
(``slow``: the write is applied, the answer held back past the client's timeout) and hang
up mid-answer (``reset``: the write is applied, the connection dropped after the status
line).  The health and clock endpoints are spared, so a run can always steer the CRM.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi.responses import JSONResponse, Response

from poc_harness.sandbox.profiles import Profile

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Message, Receive, Send], Awaitable[None]]
SPARED = frozenset({"/health", "/clock", "/clock/advance"})
ITEM_FAULTS = frozenset({"partial_batch"})  # injected per item by the batch endpoint, not per call


class DroppedConnection(Exception):
    """The reference CRM hangs up mid-answer: the served CRM's connection closes, the in-process
    transport turns it into the ``httpx.RemoteProtocolError`` a client would see."""


@dataclass
class FaultCount:
    """How many faults the reference CRM injected (shown by ``GET /health``, for the closing figures)."""

    injected: int = 0


class FaultInjector:
    """Wraps the CRM's ASGI app; every ``profile.fault_every``-th API call gets ``profile.fault``."""

    def __init__(self, app: ASGIApp, profile: Profile, count: FaultCount) -> None:
        self.app = app
        self.profile = profile
        self.calls = itertools.count(1)
        self.count = count

    async def __call__(self, scope: Message, receive: Receive, send: Send) -> None:
        fault = self.profile.fault
        if scope["type"] != "http" or fault in (None, *ITEM_FAULTS) or scope["path"] in SPARED:
            return await self.app(scope, receive, send)
        if next(self.calls) % self.profile.fault_every:
            return await self.app(scope, receive, send)
        if fault == "malformed" and scope["method"] != "GET":
            return await self.app(scope, receive, send)
        self.count.injected += 1
        if fault in ("429", "503"):
            answer: Response = JSONResponse(
                {"error": "try_later"}, status_code=int(fault), headers={"Retry-After": "0"}
            )
            return await answer(scope, receive, send)
        if fault == "500":
            return await JSONResponse({"error": "server_error"}, status_code=500)(scope, receive, send)
        if fault == "malformed":
            page = "<html><body>Service temporarily unavailable</body></html>"
            return await Response(page, media_type="text/html")(scope, receive, send)
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)  # the request is processed: a write is applied
        if fault == "reset":
            await send(held[0])  # the status line goes out, the body never does
            raise DroppedConnection(f"{scope['method']} {scope['path']}: connection dropped mid-answer")
        await anyio.sleep(self.profile.slow_seconds)  # "slow": the answer comes after the client gave up
        for message in held:
            await send(message)
