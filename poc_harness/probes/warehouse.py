"""A warehouse load of a vendor's bulk export: the rows written to Parquet, read back as a DWH would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from poc_harness.errors import VendorError


def load(rows: list[dict[str, Any]], path: Path, what: str) -> pa.Table:
    """Write ``rows`` to the Parquet file ``path`` and read the file back; rows a warehouse cannot
    take (one column holding several types, say) are the vendor's fault."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        table = pa.Table.from_pylist(rows) if rows else pa.table({"id": pa.array([], pa.string())})
        pq.write_table(table, path)
    except (pa.ArrowException, ValueError, TypeError) as exc:
        raise VendorError(f"the export of {what} cannot be loaded into Parquet: {exc}") from None
    return pq.read_table(path)


def ids(table: pa.Table) -> list[str]:
    """The ``id`` column as text (empty when the export has none)."""
    if "id" not in table.column_names:
        return []
    return [str(value) for value in table.column("id").to_pylist()]


def column_sum(table: pa.Table, name: str) -> float | None:
    """The sum of a numeric column, None when the column is missing or not numeric."""
    if name not in table.column_names:
        return None
    column = table.column(name)
    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
        return None
    total = pc.sum(column).as_py()
    return float(total or 0)
