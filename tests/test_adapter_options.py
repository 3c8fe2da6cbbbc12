"""The reusable option validators adapters declare their mapping and time-zone options with."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, Field, ValidationError

from poc_harness.contract.adapter_options import defaults_option, picklist_option, time_zone_option

STAGES = {"open": "Open", "won": "Closed Won"}
SOURCES = {"web": "Web", "fair": "Other"}


class _Options(BaseModel):
    stages: dict[str, str] = Field(default_factory=lambda: dict(STAGES))
    sources: dict[str, str] = Field(default_factory=lambda: dict(SOURCES))
    zone: str = "UTC"

    _stages = picklist_option("stages", STAGES)
    _sources = defaults_option("sources", SOURCES)
    _zone = time_zone_option("zone")


def test_the_buyers_table_overrides_the_vendors_defaults() -> None:
    options = _Options.model_validate({"stages": {"won": "Won"}, "sources": {"web": "Website"}})
    assert options.stages == {"open": "Open", "won": "Won"}
    assert options.sources == {"web": "Website", "fair": "Other"}


def test_a_picklist_value_used_twice_is_refused_but_a_shared_default_value_is_not() -> None:
    with pytest.raises(ValidationError, match="stages maps two harness values to one picklist value"):
        _Options.model_validate({"stages": {"won": "Open"}})
    assert _Options.model_validate({"sources": {"web": "Other"}}).sources == {"web": "Other", "fair": "Other"}


def test_an_unknown_time_zone_is_refused() -> None:
    assert _Options.model_validate({"zone": "Asia/Tehran"}).zone == "Asia/Tehran"
    with pytest.raises(ValidationError, match="unknown time zone 'Mars/Olympus'"):
        _Options.model_validate({"zone": "Mars/Olympus"})
