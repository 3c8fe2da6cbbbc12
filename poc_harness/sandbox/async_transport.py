"""An async httpx transport to the in-process reference CRM (``httpx.ASGITransport``) that reports a
connection the CRM drops mid-answer as the ``httpx.RemoteProtocolError`` a socket would give: for the
load probe, which drives the CRM from its own event loop."""

from __future__ import annotations

import httpx

from poc_harness.sandbox.faults import DroppedConnection


class AsyncASGITransport(httpx.ASGITransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except DroppedConnection as exc:
            raise httpx.RemoteProtocolError(str(exc), request=request) from None
