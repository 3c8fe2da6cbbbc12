"""``HTTPAdapter``: the base of an adapter that reaches its vendor through one ``VendorHTTP`` client.

It types ``self.options`` as the adapter's own options class, refuses options of another class, closes
the client and reports its call statistics (``close``, ``call_stats``).  A subclass names its options
class twice, as the type argument and as ``Options`` (what ``from_table`` validates a poc.toml table
with): ``class AcmeAdapter(HTTPAdapter[AcmeOptions])`` with ``Options = AcmeOptions``; its ``__init__``
calls ``super().__init__(options)`` and sets ``self.http``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Generic, TypeVar

from poc_harness.contract.adapter import AdapterOptions, CRMAdapter
from poc_harness.transport.http import VendorHTTP

OptionsT = TypeVar("OptionsT", bound=AdapterOptions)


class HTTPAdapter(CRMAdapter, Generic[OptionsT]):
    """A ``CRMAdapter`` holding one ``VendorHTTP`` client as ``self.http``."""

    options: OptionsT
    http: VendorHTTP

    def __init__(self, options: OptionsT) -> None:
        if not isinstance(options, self.Options):
            raise TypeError(
                f"the {self.name} adapter takes {self.Options.__name__}, not {type(options).__name__}"
            )
        super().__init__(options)

    def close(self) -> None:
        """Close the vendor client (a subclass holding more clients closes them after this)."""
        self.http.close()

    def call_stats(self) -> dict[str, Any]:
        """The ``VendorHTTP`` statistics of the vendor client: ``calls``, ``retries``, ``failures``, ..."""
        return asdict(self.http.stats)
