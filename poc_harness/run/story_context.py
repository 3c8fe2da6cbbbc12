"""What every story may use: the CRM (through its adapter), the run's clock, the run's record writer,
its tag and seed, and the world seeded so far.  ``Trial`` builds one per story (each story's own context
adds its part of the plan, see ``poc_harness.run.stories``); a story never sees the trial itself."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from poc_harness.contract.adapter import CRMAdapter, RecordKind
from poc_harness.contract.model import Activity, Record
from poc_harness.run.clock import ClockMode
from poc_harness.run.ledger import Ledger
from poc_harness.run.seeding import SeededWorld

StoryRecord = Record | Activity | dict[str, object]
"""What a story creates: a record, an activity, or a deal's terms."""


@dataclass(frozen=True)
class RunClock:
    """The CRM's time, which the run moves forward in ``virtual`` mode only."""

    adapter: CRMAdapter
    mode: ClockMode

    def now(self) -> datetime:
        return self.adapter.now()

    def advance_to(self, moment: datetime) -> None:
        """In ``virtual`` mode, move the CRM's clock forward to ``moment``; otherwise time just passes."""
        if self.mode is ClockMode.VIRTUAL:
            gap = moment - self.now()
            if gap > timedelta(0):
                self.adapter.advance_clock(gap)


class Creates(Protocol):
    """Creates one record through ``call`` under the harness's ``key``, ledger first (``Seeder.create``)."""

    def create(
        self, kind: RecordKind, record: Record | dict[str, object], key: str, call: Callable[[], str]
    ) -> str: ...


@dataclass(frozen=True)
class RunRecords:
    """The records this run creates: each written to the ledger before its create call (so a killed run
    neither loses nor repeats it), and when an earlier attempt of this run created one."""

    writer: Creates
    ledger: Ledger
    run_id: str

    def create(
        self, kind: RecordKind, record: StoryRecord, key: str, call: Callable[[], str]
    ) -> str:
        """The vendor id of the record ``key``: created now, or by an earlier attempt of this run.  The
        ledger keeps the record's fields (an activity's as they are, not JSON-encoded)."""
        return self.writer.create(kind, dict(record) if isinstance(record, Activity) else record, key, call)

    def created_at(self, kind: RecordKind, key: str) -> datetime | None:
        """When this run created the record ``key`` (None: not yet)."""
        return self.ledger.created_at(self.run_id, kind.value, key)


@dataclass(frozen=True)
class StoryContext:
    """What every story uses."""

    adapter: CRMAdapter
    clock: RunClock
    records: RunRecords
    tag: str
    """The run's tag, put in every record's text so that the run's records can be found and cleaned up."""
    seed: int
    world: SeededWorld
    """Everything seeded so far (the lead timeline story seeds the leads as they arrive)."""

    def now(self) -> datetime:
        return self.clock.now()

    def advance_to(self, moment: datetime) -> None:
        self.clock.advance_to(moment)
