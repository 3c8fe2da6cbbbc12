"""The conformance suite selects its tests from what an adapter declares: one declaration-layer test per
undeclared capability, the exchange tests for each method of a declared one (and the core), nothing else."""

from __future__ import annotations

import pytest

from adapters.pipedrive import PipedriveAdapter
from poc_harness.contract.adapter import CAPABILITY_METHODS, Capability
from poc_harness.testing import AdapterConformance
from poc_harness.testing.suite import CORE_METHODS, method_pairs, undeclared

pytest_plugins = ["pytester"]


def test_only_the_declared_capabilities_methods_get_exchange_tests() -> None:
    pairs = method_pairs(frozenset({Capability.DEALS}))
    assert pairs == [("core", m) for m in CORE_METHODS] + [
        (Capability.DEALS, m) for m in CAPABILITY_METHODS[Capability.DEALS]
    ]


def test_every_undeclared_capability_gets_one_declaration_test_batching_aside() -> None:
    lacking = undeclared(frozenset({Capability.DEALS}))
    assert Capability.DEALS not in lacking and Capability.BATCH_CREATE not in lacking
    assert len(lacking) == len(set(lacking)) == len(CAPABILITY_METHODS) - 2
    assert Capability.BACKDATING in lacking  # no method of its own: create_lead's arrival is what it checks


def test_a_subclass_naming_no_adapter_class_is_told_what_to_set() -> None:
    class TestNothing(AdapterConformance):
        pass

    with pytest.raises(TypeError, match="set adapter_class"):
        TestNothing.declared_capabilities()


def test_collection_follows_the_adapter_class(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_selected="""
        from adapters.pipedrive import PipedriveAdapter
        from poc_harness.testing import AdapterConformance

        class TestPipedriveSelection(AdapterConformance):
            adapter_class = PipedriveAdapter
        """
    )
    result = pytester.runpytest_inprocess("--collect-only", "-q", "-p", "no:cacheprovider")
    ids = [line.partition("::")[2] for line in result.outlines if "::" in line]
    declared = PipedriveAdapter.capabilities
    refusing = [i for i in ids if i.startswith("TestPipedriveSelection::test_undeclared_capability_refuses")]
    assert sorted(refusing) == sorted(
        f"TestPipedriveSelection::test_undeclared_capability_refuses_without_a_request[{c.value}]"
        for c in undeclared(declared)
    )
    happy = {i.partition("[")[2].rstrip("]") for i in ids if "test_happy_exchange" in i}
    assert happy == {f"{c}-{m}" for c, m in method_pairs(declared)}
    assert "deals-convert_lead" in happy and not any(i.startswith("tickets-") for i in happy)
