"""The conformance suite: contract tests every adapter must pass, per capability and method (test ids
``<capability>-<method>``, ``core-...`` for what every adapter implements: ``-k deals`` runs one group).

An adapter's test module subclasses ``AdapterConformance`` (as a ``Test...`` class) and provides the
fixtures ``adapter`` (configured against a fake base URL), ``router`` (the ``respx.MockRouter`` the
adapter's requests go to) and ``exchanges`` (contract method -> ``Exchange``), and the class attributes
``secrets`` (credential values no message may show) and ``credential`` (what a user fixes after a 401,
e.g. the environment variable holding the token), ``adapter_class`` (the adapter's class) and, where the
instance declares other capabilities than its class (an option, a mapping file), ``declared``.

The suite selects, per subclass, the tests its declared capabilities require: each method of a declared
capability (and of the core) gets its exchange tests; each capability not declared gets one
declaration-layer test (its methods refuse without a request, with the right outcome).  A declared
method without an exchange is skipped as "not exercised: no exchange describes <method>", never passed.
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
    no_request,
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

CORE_PAIRS = [(CORE, method) for method in CORE_METHODS]
LONG_AGO = datetime(2020, 1, 1, 9, 0, tzinfo=UTC)
NOT_JSON = "<html><body>502 Bad Gateway</body></html>"
WRONG_SHAPE: Any = {"unexpected": ["shape"]}


def _ids(pairs: list[tuple[Any, str]]) -> list[str]:
    return [f"{capability!s}-{method}" for capability, method in pairs]


def _capabilities_of(method: str) -> list[Capability]:
    return [capability for capability, methods in CAPABILITY_METHODS.items() if method in methods]


def _overrides(cls: type[CRMAdapter], method: str) -> bool:
    return getattr(cls, method) is not getattr(CRMAdapter, method)


def method_pairs(declared: frozenset[Capability]) -> list[tuple[Any, str]]:
    """(capability, method) for the core and every method of each declared capability (batching aside)."""
    return CORE_PAIRS + [
        (capability, method)
        for capability, methods in CAPABILITY_METHODS.items()
        if capability in declared and capability not in SEPARATE
        for method in methods
    ]


def undeclared(declared: frozenset[Capability]) -> list[Capability]:
    """The capabilities not declared, each given one declaration-layer test (batching aside)."""
    return [c for c in CAPABILITY_METHODS if c not in declared and c not in SEPARATE]


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
    adapter_class: ClassVar[type[CRMAdapter] | None] = None
    """the class of the ``adapter`` fixture: its ``capabilities`` select the tests"""
    declared: ClassVar[frozenset[Capability] | None] = None
    """the capabilities the ``adapter`` fixture's instance declares, where they are not its class's"""

    @classmethod
    def declared_capabilities(cls) -> frozenset[Capability]:
        """What the tests are selected for: ``declared``, else ``adapter_class.capabilities``."""
        if cls.declared is not None:
            return frozenset(cls.declared)
        if cls.adapter_class is None:
            raise TypeError(f"{cls.__qualname__}: set adapter_class (or declared) to select its tests")
        return frozenset(cls.adapter_class.capabilities)

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """Parametrize each test over what the subclass's declared capabilities require."""
        if metafunc.cls is None or not issubclass(metafunc.cls, AdapterConformance):
            return
        declared = metafunc.cls.declared_capabilities()
        names = metafunc.fixturenames
        if "undeclared_capability" in names:
            lacking: list[Any] = undeclared(declared) or [
                pytest.param(None, marks=pytest.mark.skip(reason="every capability is declared"), id="none")
            ]
            metafunc.parametrize("undeclared_capability", lacking, ids=str)
        elif "method" in names:
            pairs = method_pairs(declared)
            if "garbage" in names:
                pairs = [(capability, method) for capability, method in pairs if reads_answer(method)]
            metafunc.parametrize(("capability", "method"), pairs, ids=_ids(pairs))

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
            assert support is Support.IMPLEMENTED, f"{capability}: selected, not declared by {adapter.name}"
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
        if exchange.answer is no_request:
            pytest.skip(f"{method} sends no request: there is no answer to fail")
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

    def test_the_tests_are_selected_for_what_the_adapter_declares(self, adapter: CRMAdapter) -> None:
        instance = {capability for capability in Capability if adapter.has(capability)}
        selected = self.declared_capabilities()
        assert instance == selected, (
            f"{adapter.name} declares {sorted(instance)}, the suite selected tests for {sorted(selected)}: "
            "set the class attribute declared"
        )

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

    def test_undeclared_capability_refuses_without_a_request(
        self,
        adapter: CRMAdapter,
        router: respx.MockRouter,
        exchanges: Mapping[str, Exchange],
        undeclared_capability: Capability,
    ) -> None:
        capability = undeclared_capability
        support = adapter.support(capability)
        expected: type[Exception] = (
            CapabilityMissing if support is Support.VENDOR_LACKS else NotImplementedByAdapter
        )
        calls = len(router.calls)
        refused = 0
        for method in CAPABILITY_METHODS[capability]:
            if any(adapter.has(other) for other in _capabilities_of(method)):
                continue  # another declared capability needs it: its exchanges test it
            bound = getattr(adapter, method)
            with pytest.raises((CapabilityMissing, NotImplementedByAdapter)) as caught:
                bound(*_placeholders(bound))
            refused += 1
            self._assert_refusal(adapter, method, support, expected, caught.value)
        if capability is Capability.BACKDATING:
            exchange = exchanges.get("create_lead")
            if exchange is None:
                pytest.skip(f"not exercised: no exchange describes create_lead for {adapter.name}")
            with pytest.raises((CapabilityMissing, NotImplementedByAdapter)) as caught:
                adapter.create_lead(exchange.args[0], LONG_AGO)
            refused += 1
            assert isinstance(caught.value, expected), f"backdating ({support}) raised {caught.value!r}"
            self._assert_one_clean_line(str(caught.value))
        assert len(router.calls) == calls, f"{capability} is not declared, yet a request was sent"
        if not refused:
            pytest.skip(f"{capability}: every method of it belongs to a declared capability")

    def _assert_refusal(
        self, adapter: CRMAdapter, method: str, support: Support, expected: type[Exception], error: Exception
    ) -> None:
        message = str(error)
        self._assert_one_clean_line(message)
        if len(_capabilities_of(method)) == 1:
            assert isinstance(error, expected), f"{method} ({support}) raised {error!r}"
        if isinstance(error, CapabilityMissing):  # a finding: it cites the vendor's documentation
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

    # --- per method of each declared capability ------------------------------------------------------

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
        assert routes or exchange.answer is no_request, f"the exchange of {method} installs no route"
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
