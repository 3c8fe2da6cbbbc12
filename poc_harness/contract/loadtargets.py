"""What an adapter hands the load probe: the read and write requests to replay and the client to send them.

The client's headers hold the vendor's credentials: they stay inside the client the probe
builds and never reach the probe's results (``repr`` leaves them out too).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from poc_harness.contract.model import Account


@dataclass(frozen=True)
class LoadRequest:
    """One request the probe replays; ``path`` and ``body`` get the request's number (0, 1, 2...)."""

    name: str
    """what the results call it, e.g. ``GET /leads/{id}`` (no ids, no secrets)"""
    method: str
    path: Callable[[int], str]
    body: Callable[[int], dict[str, Any]] | None = None
    creates: str | None = None
    """the record kind (``RecordKind`` value) a successful answer creates: listed for cleanup"""
    key: Callable[[int], str] | None = None
    """for a write that creates: the harness's key for the record, which the body hands the vendor
    (e.g. as its external ref); the ledger gets it before the request is sent"""


@dataclass(frozen=True)
class LoadClient:
    """How to reach the vendor: base URL, headers (credentials), timeout, and its declared rate limit."""

    base_url: str
    headers: dict[str, str] = field(repr=False)
    timeout: float
    transport: Callable[[], httpx.AsyncBaseTransport] | None = field(default=None, repr=False)
    """builds the transport for an in-process CRM; None for a vendor reached over the network"""
    rate_limit_per_second: float | None = None
    """the vendor's declared API rate limit for one client, if it declares one"""


@dataclass(frozen=True)
class LoadTargets:
    """The probe's workload for one vendor."""

    reads: list[LoadRequest]
    writes: list[LoadRequest]
    client: LoadClient
    created_id: Callable[[Any], str | None] = lambda answer: None
    """the vendor id in a write's JSON answer, so what the probe created can be cleaned up"""


@dataclass(frozen=True)
class ProbeAccounts:
    """The accounts the probe's writes create, one per request number: under the run's ``tag``, keyed
    ``load-<probe>-<n>`` (unique to this probe, also when a resumed run probes again)."""

    tag: str
    probe: str = field(default_factory=lambda: secrets.token_hex(3))

    def key(self, number: int) -> str:
        return f"load-{self.probe}-{number}"

    def account(self, number: int) -> Account:
        return Account(
            key=self.key(number),
            tag=self.tag,
            name=f"Load probe {number}",
            industry="load probe",
            city="Tehran",
            phone=f"+98210{number % 10**7:07d}",
        )
