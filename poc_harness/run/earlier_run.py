"""An earlier run from the ledger, checked against the vendor a command is about to touch (``--resume``,
``poc-harness cleanup``): the same vendor name, a CRM that keeps its data, and the same instance."""

from __future__ import annotations

from typing import Any

from poc_harness.contract.adapter import CRMAdapter
from poc_harness.errors import ConfigError
from poc_harness.run.ledger import Ledger


def earlier_run(
    adapter: CRMAdapter, ledger: Ledger, run_id: str, vendor: str, where: str, instead: str
) -> dict[str, Any]:
    """The ledger's row for ``run_id``; a one-line ConfigError (starting with ``where``) when it is not
    there or was made against another vendor or instance; ``instead`` says what to do when this vendor
    keeps no data between runs."""
    run = ledger.run(run_id)
    if run is None:
        raise ConfigError(f"{where}: no such run in the ledger {ledger.path}: check the run id")
    if run["vendor"] != vendor:
        raise ConfigError(
            f"{where}: that run was against vendor '{run['vendor']}', not '{vendor}': "
            f"pass --vendor={run['vendor']}"
        )
    if not adapter.persistent:
        raise ConfigError(
            f"{where}: vendor '{vendor}' keeps no data between runs (an in-process reference CRM): {instead}"
        )
    here = adapter.endpoint()
    if run["endpoint"] and here and run["endpoint"] != here:
        raise ConfigError(
            f"{where}: that run was against {run['endpoint']}, but vendor '{vendor}' is configured for "
            f"{here}: point base_url at the instance the run used"
        )
    return run
