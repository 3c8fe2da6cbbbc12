"""The shipped conformance suite for adapters (modelled on SQLAlchemy's dialect ``testing.suite``).

An adapter's test module subclasses ``AdapterConformance`` and provides its ``adapter`` and ``router``
fixtures and the ``exchanges`` describing each contract call; see README "Adding a vendor".
"""

from poc_harness.testing.exchange import Exchange, answering, answering_in_turn, no_request, together
from poc_harness.testing.suite import AdapterConformance

__all__ = ["AdapterConformance", "Exchange", "answering", "answering_in_turn", "no_request", "together"]
