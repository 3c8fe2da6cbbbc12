"""The capability table, ``Support`` and the class-creation check of ``CRMAdapter``'s declarations."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import pytest

from poc_harness.adapter import (
    CAPABILITY_METHODS,
    SERVICE_METHODS,
    AdapterOptions,
    Capability,
    CRMAdapter,
    RecordKind,
    SecurityProbes,
    Support,
)
from poc_harness.errors import CapabilityMissing, NotExercised, NotImplementedByAdapter, PocError

ADAPTERS = ("sandbox", "bottlecrm", "hubspot", "salesforce", "zoho", "dynamics", "pipedrive", "odoo")
ADAPTERS += ("mapping",)
DOC = "https://crm.example/docs/editions: no forecasting"


def _stub(*args: Any, **kwargs: Any) -> Any:
    return None


def concrete(name: str = "Acme", **namespace: Any) -> type[CRMAdapter]:
    """A concrete adapter class: every abstract method stubbed, then ``namespace``."""
    body: dict[str, Any] = {name: _stub for name in CRMAdapter.__abstractmethods__}
    body.update({"name": "acme", "capabilities": frozenset()}, **namespace)
    return type(name, (CRMAdapter,), body)


def test_a_class_declaring_deals_without_convert_lead_is_refused_at_creation() -> None:
    with pytest.raises(TypeError) as refused:
        concrete(capabilities=frozenset({Capability.DEALS}), move_deal=_stub, get_deal=_stub)
    assert str(refused.value) == (
        "Acme declares the deals capability but does not implement convert_lead: override it, "
        "or leave deals undeclared"
    )


def test_a_class_implementing_every_method_of_its_capabilities_is_accepted() -> None:
    adapter_class = concrete(
        capabilities=frozenset({Capability.DEALS}), convert_lead=_stub, move_deal=_stub, get_deal=_stub
    )
    assert adapter_class(AdapterOptions()).support(Capability.DEALS) is Support.IMPLEMENTED


def test_a_conditional_capability_needs_its_methods_too() -> None:
    with pytest.raises(TypeError, match=r"Acme declares the tickets capability .* implement create_ticket"):
        concrete(conditional_capabilities=frozenset({Capability.TICKETS}))


def test_an_abstract_class_may_leave_methods_to_its_subclasses() -> None:
    base = type("Partial", (CRMAdapter,), {"capabilities": frozenset({Capability.VOIP})})
    with pytest.raises(TypeError, match="Concrete declares the voip capability but does not implement log_"):
        type("Concrete", (base,), {name: _stub for name in CRMAdapter.__abstractmethods__})


def test_vendor_lacks_may_not_overlap_the_capabilities_and_needs_documentation() -> None:
    with pytest.raises(TypeError, match="Acme declares the forecast capability and lists it in vendor_lacks"):
        concrete(
            capabilities=frozenset({Capability.FORECAST}),
            report_forecast=_stub,
            vendor_lacks={Capability.FORECAST: DOC},
        )
    with pytest.raises(TypeError, match=r"Acme.vendor_lacks\[forecast\] needs the vendor's documentation"):
        concrete(vendor_lacks={Capability.FORECAST: "  "})


def test_the_three_outcomes_raise_apart() -> None:
    adapter = concrete(vendor_lacks={Capability.FORECAST: DOC})(AdapterOptions())
    assert adapter.support(Capability.FORECAST) is Support.VENDOR_LACKS
    assert adapter.support(Capability.VOIP) is Support.NOT_IMPLEMENTED and not adapter.has(Capability.VOIP)
    with pytest.raises(CapabilityMissing) as lacked:
        adapter.report_forecast(None, None, "tag")  # type: ignore[arg-type]
    assert str(lacked.value) == f"acme does not offer forecast ({DOC})"
    with pytest.raises(NotImplementedByAdapter) as gap:
        adapter.log_call("L1", None)  # type: ignore[arg-type]
    assert isinstance(gap.value, NotExercised) and not isinstance(gap.value, CapabilityMissing)
    assert str(gap.value) == "not measured: the acme adapter does not implement voip"


def test_require_names_what_the_vendor_lacks_before_our_gaps() -> None:
    adapter = concrete(vendor_lacks={Capability.FORECAST: DOC})(AdapterOptions())
    adapter.require()
    with pytest.raises(CapabilityMissing, match=r"^acme does not offer forecast \(https://crm"):
        adapter.require(Capability.VOIP, Capability.FORECAST)
    with pytest.raises(NotImplementedByAdapter) as gap:
        adapter.require(Capability.VOIP, Capability.SSO)
    assert str(gap.value) == "not measured: the acme adapter does not implement voip, sso"


def test_the_table_covers_every_capability_and_every_gated_contract_method() -> None:
    assert set(CAPABILITY_METHODS) == set(Capability)
    listed = {name for names in CAPABILITY_METHODS.values() for name in names}
    probes = {name for name, _ in inspect.getmembers(SecurityProbes, inspect.isfunction)}
    gated = {
        name
        for name, member in inspect.getmembers(CRMAdapter, inspect.isfunction)
        if not name.startswith("_")
        and not getattr(member, "__isabstractmethod__", False)
        and name not in SERVICE_METHODS
        and name not in probes
    }
    assert listed - {"create_batch"} == gated  # create_batch has a default; BATCH_CREATE overrides it


@pytest.mark.parametrize("module", ADAPTERS)
def test_every_shipped_adapter_states_each_capability_once(module: str) -> None:
    name = f"adapters.{module}"
    adapter_class = next(
        value
        for value in vars(importlib.import_module(name)).values()
        if isinstance(value, type) and issubclass(value, CRMAdapter) and value.__module__ == name
    )
    declared = adapter_class.capabilities | adapter_class.conditional_capabilities
    assert not set(adapter_class.vendor_lacks) & declared
    assert all(doc.strip() for doc in adapter_class.vendor_lacks.values())


@pytest.mark.parametrize("method", sorted({name for names in CAPABILITY_METHODS.values() for name in names}))
def test_each_default_body_names_a_capability_that_lists_it(method: str) -> None:
    adapter = concrete()(AdapterOptions())
    if method == "create_batch":
        assert CRMAdapter.create_batch(adapter, RecordKind.LEAD, []) == []  # one by one: nothing to create
        return
    base = getattr(CRMAdapter, method)
    with pytest.raises(NotImplementedByAdapter) as gap:
        base(adapter, *[None] * (len(inspect.signature(base).parameters) - 1))
    named = Capability(str(gap.value).rsplit(" ", 1)[-1])
    assert method in CAPABILITY_METHODS[named]


def _raised(error: Exception) -> pytest.CallInfo[None]:
    def fail() -> None:
        raise error

    return pytest.CallInfo.from_call(fail, when="call")


def test_the_grading_keeps_the_vendors_lack_a_finding_and_our_gap_not_measured() -> None:
    from poc_harness.completeness import FAILED, NOT_MEASURED, state_of
    from poc_harness.plugin import _fault, _label

    adapter = concrete(vendor_lacks={Capability.FORECAST: DOC})(AdapterOptions())
    for capability, fault, label, state in (
        (Capability.FORECAST, "vendor", "finding", FAILED),
        (Capability.VOIP, "harness", "NotExercised", NOT_MEASURED),
    ):
        with pytest.raises(PocError) as caught:
            adapter.require(capability)
        assert _fault(_raised(caught.value)) == fault and _label(caught.value) == label
        entry = {"outcome": "failed", "fault": fault, "message": f"{label}: {caught.value}"}
        assert state_of(entry) == state, entry


def test_every_public_contract_method_says_what_it_returns() -> None:
    undocumented = [
        name
        for name, member in inspect.getmembers(CRMAdapter, inspect.isfunction)
        if not name.startswith("_") and not (member.__doc__ or "").strip()
    ]
    assert undocumented == []


def test_a_mapping_file_says_what_the_vendor_lacks_with_its_documentation(tmp_path: Any) -> None:
    from adapters.mapping import MappingAdapter, MappingOptions, load_mapping
    from poc_harness.errors import ConfigError
    from tests.test_mapping_adapter import BASE, MINIMAL, write

    lacks = {"vendor_lacks": {"forecast": DOC}}
    adapter = MappingAdapter(MappingOptions(mapping=write(tmp_path, {**MINIMAL, **lacks}), base_url=BASE))
    try:
        assert adapter.support(Capability.FORECAST) is Support.VENDOR_LACKS
        assert adapter.support(Capability.REPORTS) is Support.NOT_IMPLEMENTED
        with pytest.raises(CapabilityMissing, match=r"^mapping does not offer forecast \(https://crm"):
            adapter.report_forecast(None, None, "tag")  # type: ignore[arg-type]
    finally:
        adapter.close()
    for data, says in (
        ({"vendor_lacks": {"forecast": " "}}, "'vendor_lacks': forecast: name the vendor's documentation"),
        ({"vendor_lacks": {"sla": DOC}, "capabilities": ["sla"]}, "sla is also declared in capabilities"),
        ({"capabilities": ["webhooks"]}, "the mapping adapter cannot map webhooks"),
    ):
        with pytest.raises(ConfigError, match=says):
            load_mapping(write(tmp_path, {**MINIMAL, **data}))


def test_a_story_hitting_our_gap_is_kept_for_its_checks_and_the_timeline_goes_on() -> None:
    from types import SimpleNamespace

    from poc_harness.trial import Trial

    gap = NotImplementedByAdapter("not measured: the acme adapter does not implement sla")
    trial = SimpleNamespace(_truths={}, _story_errors={}, _seeding_error=None)

    def story(_: object) -> None:
        raise gap

    Trial._story(trial, "tickets", story)  # type: ignore[arg-type]
    Trial._story(trial, "week", lambda _: "truth")  # type: ignore[arg-type]
    assert trial._story_errors == {"tickets": gap} and trial._truths == {"week": "truth"}
