"""The reference CRM's adapter through the shipped conformance suite, against respx mocks answering as
the reference CRM's REST API does (its OpenAPI document, ``/openapi.json``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import respx

from adapters.sandbox import SandboxAdapter, SandboxOptions
from poc_harness.testing import AdapterConformance, Exchange
from tests.adapters.reference_crm import capability_exchanges, core_exchanges, sandbox_exchanges

BASE = "https://reference-crm.test"
TOKEN = "sandbox-test-token-5d1f"


class TestSandboxConformance(AdapterConformance):
    secrets = (TOKEN,)
    credential = "SANDBOX_TEST_TOKEN"
    adapter_class = SandboxAdapter

    @pytest.fixture
    def adapter(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[SandboxAdapter]:
        monkeypatch.setenv("SANDBOX_TEST_TOKEN", TOKEN)
        built = SandboxAdapter(SandboxOptions(base_url=BASE, token_env="SANDBOX_TEST_TOKEN"))
        yield built
        built.close()

    @pytest.fixture
    def router(self) -> Iterator[respx.MockRouter]:
        with respx.mock(base_url=BASE, assert_all_called=False) as router:
            yield router

    @pytest.fixture
    def exchanges(self) -> dict[str, Exchange]:
        shared = core_exchanges(listing_first=True) | capability_exchanges(listing_first=True)
        return shared | sandbox_exchanges()
