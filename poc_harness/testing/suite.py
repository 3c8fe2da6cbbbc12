"""The conformance suite: contract tests every adapter must pass, per capability and method (test ids
``<capability>-<method>``, ``core-...`` for what every adapter implements: ``-k deals`` runs one group).

An adapter's test module subclasses ``AdapterConformance`` (as a ``Test...`` class) and provides the
fixtures ``adapter`` (configured against a fake base URL), ``router`` (the ``respx.MockRouter`` the
adapter's requests go to) and ``exchanges`` (contract method -> ``Exchange``), and the class attributes
``secrets`` (credential values no message may show) and ``credential`` (what a user fixes after a 401,
e.g. the environment variable holding the token).  Tests of a capability the adapter does not declare
are skipped naming the capability; a declared method without an exchange is skipped as not exercised.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
import pytest
import respx

from poc_harness.contract.adapter import CAPABILITY_METHODS, Capability, CRMAdapter, Support
from poc_harness.errors import CapabilityMissing, ConfigError, NotImplementedByAdapter, VendorError
from poc_harness.testing.exchange import (
    Exchange,
    answer_all,
    conforms,
    installed,
    reads_answer,
    return_type,
    unobserved_fields,
)

CORE = "core"
"""What every adapter implements (the contract's abstract methods the harness seeds and cleans with)."""
CORE_METHODS = ("create_account", "create_contact", "create_lead", "get_lead", "find_tagged", "delete",
                "log_activity")
SEPARATE = frozenset({Capability.BATCH_CREATE})
"""Capabilities with a test of their own (batching is judged by counting requests)."""

CAPABILITY_PAIRS = [
    (capability, method)
    for capability, methods in CAPABILITY_METHODS.items()
    if capability not in SEPARATE
    for method in methods
]
METHODS = [(CORE, method) for method in CORE_METHODS] + CAPABILITY_PAIRS
READING = [(capability, method) for capability, method in METHODS if reads_answer(method)]
"""The methods returning what they read from the answer (not None or a bare success flag)."""
LONG_AGO = datetime(2020, 1, 1, 9, 0, tzinfo=UTC)
NOT_JSON = "<html><body>502 Bad Gateway</body></html>"
WRONG_SHAPE: Any = {"unexpected": ["shape"]}


def _ids(pairs: list[tuple[Any, str]]) -> list[str]:
    return [f"{capability!s}-{method}" for capability, method in pairs]


def _capabilities_of(method: str) -> list[Capability]:
    return [capability for capability, methods in CAPABILITY_METHODS.items() if method in methods]


def _overrides(cls: type[CRMAdapter], method: str) -> bool:
    return getattr(cls, method) is not getattr(CRMAdapter, method)


def _placeholders(method: Any) -> list[None]:
    """None for each required parameter: a method of an undeclared capability refuses before using any."""
    parameters = inspect.signature(method).parameters.values()
    return [None for p in parameters if p.default is inspect.Parameter.empty]


class AdapterConformance:
    """Contract tests for one adapter; subclass it as ``Test<Vendor>Conformance`` and provide the
    fixtures ``adapter``, ``router`` and ``exchanges`` and the class attributes below."""

    secrets: ClassVar[tuple[str, ...]] = ()
    """credential values (tokens, passwords, client secrets) that no error message may show"""
    credential: ClassVar[str] = ""
    """what a 401 message must name for the user to fix (e.g. the token's environment variable)"""

    @pytest.fixture
    def exchanges(self) -> Mapping[str, Exchange]:
        """Contract method -> how to call it and the routes answering it in the vendor's documented
        shapes (override it; a declared method without one is skipped as not exercised)."""
        return {}

    # --- helpers -------------------------------------------------------------------------------------

    def _exchange(
        self, adapter: CRMAdapter, exchanges: Mapping[str, Exchange], capability: Any, method: str
    ) -> Exchange:
        if capability != CORE:
            support = adapter.support(Capability(capability))
            if support is not Support.IMPLEMENTED:
                pytest.skip(f"{capability}: not declared by {adapter.name} ({support})")
        exchange = exchanges.get(method)
        if exchange is None:
            pytest.skip(f"not exercised: no exchange describes {method} ({capability}) for {adapter.name}")
        return exchange

    def _assert_one_clean_line(self, message: str) -> None:
        assert message, "an empty error message"
        assert "\n" not in message and "\r" not in message, f"not one line: {message!r}"
        assert "Traceback" not in message, message
        shown = [secret for secret in self.secrets if secret in message]
        assert not shown, "the message shows a credential"

    def _failing(
        self, adapter: CRMAdapter, router: respx.MockRouter, method: str, exchange: Exchange, answer: Any
    ) -> pytest.ExceptionInfo[Exception]:
        routes = installed(router, exchange.answer)
        answer_all(routes, answer)
        stray = router.route(name="stray").respond(418, text="request not described by the exchange")
        with pytest.raises((VendorError, ConfigError)) as caught:
            exchange.call(adapter, method)
        assert not stray.called, f"{method} sent requests the exchange does not describe: {stray.calls}"
        error = caught.value
        assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__), (
            f"{method}: the error chains another exception (a traceback wall): {error!r}"
        )
        self._assert_one_clean_line(str(error))
        return caught

    # --- declaration layer ---------------------------------------------------------------------------

    def test_declared_capabilities_override_their_methods(self, adapter: CRMAdapter) -> None:
        missing = [
            f"{capability}: {method}"
            for capability, methods in CAPABILITY_METHODS.items()
            if adapter.support(capability) is Support.IMPLEMENTED
            for method in methods
            if not _overrides(type(adapter), method)
        ]
        assert not missing, f"{adapter.name} declares capabilities without their methods: {missing}"

    def test_undeclared_capabilities_keep_the_contract_defaults(self, adapter: CRMAdapter) -> None:
        conditional = type(adapter).conditional_capabilities
        extra = [
            f"{capability}: {method}"
            for capability, methods in CAPABILITY_METHODS.items()
            if adapter.support(capability) is not Support.IMPLEMENTED and capability not in conditional
            for method in methods
            if _overrides(type(adapter), method)
            and not any(adapter.has(other) for other in _capabilities_of(method))
        ]
        assert not extra, f"{adapter.name} implements methods of capabilities it does not declare: {extra}"

    def test_what_the_vendor_lacks_is_documented(self, adapter: CRMAdapter) -> None:
        for capability, documentation in adapter.vendor_lacks.items():
            assert capability not in adapter.capabilities, f"{capability} both declared and lacking"
            assert adapter.support(capability) is Support.VENDOR_LACKS, capability
            assert documentation.strip() and documentation.strip() != capability.value, (
                f"{adapter.name}: that the vendor lacks {capability} needs the vendor's documentation"
            )

    @pytest.mark.parametrize(("capability", "method"), CAPABILITY_PAIRS, ids=_ids(CAPABILITY_PAIRS))
    def test_undeclared_method_refuses_without_a_request(
        self, adapter: CRMAdapter, router: respx.MockRouter, capability: Capability, method: str
    ) -> None:
        support = adapter.support(capability)
        if any(adapter.has(other) for other in _capabilities_of(method)):
            pytest.skip(f"{capability}: declared by {adapter.name}: its exchanges test {method}")
        expected: type[Exception] = (
            CapabilityMissing if support is Support.VENDOR_LACKS else NotImplementedByAdapter
        )
        calls = len(router.calls)
        bound = getattr(adapter, method)
        with pytest.raises((CapabilityMissing, NotImplementedByAdapter)) as caught:
            bound(*_placeholders(bound))
        assert len(router.calls) == calls, f"{method} sent a request for a capability not declared"
        message = str(caught.value)
        self._assert_one_clean_line(message)
        if len(_capabilities_of(method)) == 1:
            assert isinstance(caught.value, expected), f"{method} ({support}) raised {caught.value!r}"
        if isinstance(caught.value, CapabilityMissing):  # a finding: it cites the vendor's documentation
            cited = [
                other
                for other in _capabilities_of(method)
                if other in adapter.vendor_lacks
                and other.value in message
                and adapter.vendor_lacks[other].strip() in message
            ]
            assert cited, f"{method}: a finding must name the capability and its documentation: {message}"
        else:
            assert message.startswith("not measured:"), message

    def test_undeclared_backdating_refuses_without_a_request(
        self, adapter: CRMAdapter, router: respx.MockRouter, exchanges: Mapping[str, Exchange]
    ) -> None:
        support = adapter.support(Capability.BACKDATING)
        if support is Support.IMPLEMENTED:
            pytest.skip(f"backdating: declared by {adapter.name}")
        exchange = exchanges.get("create_lead")
        if exchange is None:
            pytest.skip(f"not exercised: no exchange describes create_lead for {adapter.name}")
        calls = len(router.calls)
        with pytest.raises((CapabilityMissing, NotImplementedByAdapter)) as caught:
            adapter.create_lead(exchange.args[0], LONG_AGO)
        assert len(router.calls) == calls, "a backdated create_lead sent a request without backdating"
        expected = CapabilityMissing if support is Support.VENDOR_LACKS else NotImplementedByAdapter
        assert isinstance(caught.value, expected), f"backdating ({support}) raised {caught.value!r}"
        self._assert_one_clean_line(str(caught.value))

    # --- per method of each declared capability ------------------------------------------------------

    @pytest.mark.parametrize(("capability", "method"), METHODS, ids=_ids(METHODS))
    def test_happy_exchange_returns_the_contract_type(
        self,
        adapter: CRMAdapter,
        router: respx.MockRouter,
        exchanges: Mapping[str, Exchange],
        capability: Any,
        method: str,
    ) -> None:
        exchange = self._exchange(adapter, exchanges, capability, method)
        routes = installed(router, exchange.answer)
        assert routes, f"the exchange of {method} installs no route"
        stray = router.route(name="stray").respond(418, text="request not described by the exchange")
        value = exchange.call(adapter, method)
        assert not stray.called, f"{method} sent requests the exchange does not describe: {stray.calls}"
        uncalled = [str(route.pattern) for route in routes if not route.called]
        assert not uncalled, f"{method} did not call routes its exchange installed: {uncalled}"
        expected = return_type(method)
        assert conforms(value, expected), f"{method} returned {value!r}, the contract says {expected}"
        if isinstance(value, str):
            assert value.strip(), f"{method} returned an empty id"
        missing = unobserved_fields(adapter, value)
        assert not missing, f"{adapter.name} says it observes {missing}, {method} left them empty"

    @pytest.mark.parametrize("garbage", ["not-json", "wrong-shape"])
    @pytest.mark.parametrize(("capability", "method"), READING, ids=_ids(READING))
    def test_garbage_answer_is_one_line_vendor_error(
        self,
        adapter: CRMAdapter,
        router: respx.MockRouter,
        exchanges: Mapping[str, Exchange],
        capability: Any,
        method: str,
        garbage: str,
    ) -> None:
        exchange = self._exchange(adapter, exchanges, capability, method)

        def respond(request: httpx.Request) -> httpx.Response:
            if garbage == "not-json":
                return httpx.Response(200, text=NOT_JSON, headers={"Content-Type": "text/html"})
            return httpx.Response(200, json=WRONG_SHAPE)

        caught = self._failing(adapter, router, method, exchange, respond)
        assert isinstance(caught.value, VendorError), f"garbage is the vendor's fault: {caught.value!r}"

    @pytest.mark.parametrize(("capability", "method"), METHODS, ids=_ids(METHODS))
    def test_401_names_the_credential_to_fix(
        self,
        adapter: CRMAdapter,
        router: respx.MockRouter,
        exchanges: Mapping[str, Exchange],
        capability: Any,
        method: str,
    ) -> None:
        exchange = self._exchange(adapter, exchanges, capability, method)
        body = {"message": f"Authentication failed for {' '.join(self.secrets)}", "status": 401}
        caught = self._failing(adapter, router, method, exchange, lambda _: httpx.Response(401, json=body))
        message = str(caught.value)
        assert "401" in message or "authenticat" in message.lower(), message
        assert self.credential and self.credential in message, (
            f"a 401 must name what to fix ({self.credential or 'set the class attribute credential'}): "
            f"{message}"
        )
