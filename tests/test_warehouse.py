"""The warehouse load of a bulk export: rows through Parquet and back, and an export no warehouse can take."""

from __future__ import annotations

from pathlib import Path

import pytest

from poc_harness.errors import VendorError
from poc_harness.probes import warehouse


def test_rows_survive_the_parquet_round_trip(tmp_path: Path) -> None:
    rows = [
        {"id": "LE1", "estimated_value": 1_500_000_000, "history": [{"stage": "won"}]},
        {"id": "LE2", "estimated_value": 250, "history": []},
    ]
    table = warehouse.load(rows, tmp_path / "dwh" / "lead.parquet", "lead records")
    assert (tmp_path / "dwh" / "lead.parquet").is_file()
    assert warehouse.ids(table) == ["LE1", "LE2"]
    assert warehouse.column_sum(table, "estimated_value") == 1_500_000_250
    assert warehouse.column_sum(table, "id") is None and warehouse.column_sum(table, "missing") is None


def test_an_empty_export_loads_as_an_empty_table(tmp_path: Path) -> None:
    table = warehouse.load([], tmp_path / "deal.parquet", "deal records")
    assert table.num_rows == 0 and warehouse.ids(table) == []


def test_an_export_mixing_types_in_a_column_is_the_vendors_fault(tmp_path: Path) -> None:
    rows = [{"id": "LE1", "estimated_value": 100}, {"id": "LE2", "estimated_value": "a lot"}]
    with pytest.raises(VendorError, match="cannot be loaded into Parquet"):
        warehouse.load(rows, tmp_path / "lead.parquet", "lead records")
