"""A synchronous httpx transport over ``httpx.ASGITransport``: the reference CRM in-process, no socket.

httpx's ASGI transport is async only; the adapters are synchronous.  This runs it
on an anyio blocking portal (an event loop in a helper thread), the same way
Starlette's test client does, so every request still goes through the full HTTP
stack of the app: routing, validation, status codes, JSON encoding.  Like a socket,
it honours the client's read timeout (``httpx.ReadTimeout``) and reports a connection
the CRM drops mid-answer as ``httpx.RemoteProtocolError``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import anyio
import httpx
from anyio.from_thread import BlockingPortal, start_blocking_portal

from poc_harness.sandbox.faults import DroppedConnection


class SyncASGITransport(httpx.BaseTransport):
    def __init__(self, app: Any) -> None:
        self._inner = httpx.ASGITransport(app=app)
        self._portal_cm: AbstractContextManager[BlockingPortal] = start_blocking_portal()
        self._portal = self._portal_cm.__enter__()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()

        read_timeout = (request.extensions.get("timeout") or {}).get("read")

        async def call() -> httpx.Response:
            forwarded = httpx.Request(request.method, request.url, headers=request.headers, content=body)
            with anyio.fail_after(read_timeout):
                response = await self._inner.handle_async_request(forwarded)
                content = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers, content=content)

        try:
            return self._portal.call(call)
        except TimeoutError:
            raise httpx.ReadTimeout(f"no answer within {read_timeout} s", request=request) from None
        except DroppedConnection as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from None

    def close(self) -> None:
        self._portal_cm.__exit__(None, None, None)
