"""``HTTPAdapter``: the base of an adapter that reaches its vendor through one ``VendorHTTP`` client.

A subclass names its options class as the type argument, ``class AcmeAdapter(HTTPAdapter[AcmeOptions])``:
that becomes its ``Options`` (what ``from_table`` validates a poc.toml table with) and the type of
``self.options``; options of another class are refused.  Its ``__init__`` calls ``super().__init__(options)``
and sets ``self.http``, which ``close`` closes and ``call_stats`` reports on.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Generic, TypeVar, get_args, get_origin

from poc_harness.contract.adapter import AdapterOptions, CRMAdapter
from poc_harness.transport.http import VendorHTTP

OptionsT = TypeVar("OptionsT", bound=AdapterOptions)


class HTTPAdapter(CRMAdapter, Generic[OptionsT]):
    """A ``CRMAdapter`` holding one ``VendorHTTP`` client as ``self.http``."""

    options: OptionsT
    http: VendorHTTP

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """``Options`` from the type argument (``HTTPAdapter[AcmeOptions]``), unless the class sets it."""
        if "Options" not in vars(cls):
            for base in vars(cls).get("__orig_bases__", ()):
                if get_origin(base) is HTTPAdapter and isinstance(get_args(base)[0], type):
                    cls.Options = get_args(base)[0]
        super().__init_subclass__(**kwargs)

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
