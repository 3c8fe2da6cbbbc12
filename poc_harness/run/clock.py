"""Time modes for time-based checks (follow-ups at T+2/T+5 days, the 7-day silence alert).

- ``virtual``: the CRM's clock can be advanced (the reference CRM); every expectation
  is judged in the same run.
- ``backdate``: records are created with past timestamps where the API allows, so the
  rule's due time is already behind us.
- ``wall``: real time; an expectation whose due time has not come stays *pending* in
  the ledger and a later run (the nightly job during the 14-day trial) judges it.
"""

from __future__ import annotations

from enum import StrEnum


class ClockMode(StrEnum):
    VIRTUAL = "virtual"
    BACKDATE = "backdate"
    WALL = "wall"
