"""Benchmark: seed many records (accounts, contacts and leads, as the fixtures mix them) into the reference
CRM served on 127.0.0.1, through its batch endpoint and the ledger (``Seeder.create_many``).

    python benchmarks/batch_seeding.py [--records 100000] [--profile healthy|partial_batch]

Prints records/second (the dataset's generation is timed apart), the API calls made against the
minimum possible (records / batch size, per kind), and checks that the CRM holds each record once.
"""

from __future__ import annotations

import argparse
import math
import os
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from adapters.sandbox import SandboxAdapter, SandboxOptions
from benchmarks.served import served_crm
from fixtures.factories import Dataset, build_dataset
from poc_harness.contract.adapter import RecordKind
from poc_harness.run.ledger import Ledger
from poc_harness.run.seeding import Seeder

TOKEN_ENV = "POC_BENCH_TOKEN"
TAG = "benchbatch"
SEEDED_SHARE = 0.875  # of build_dataset's records: accounts, contacts and leads (the rest are tickets)


def dataset_of(records: int) -> Dataset:
    """Exactly ``records`` accounts, contacts and leads in the fixtures' mix (tickets left out)."""
    built = build_dataset(math.ceil(records / SEEDED_SHARE) + 16, 1404, "fa_IR", TAG)
    leads = records - len(built.accounts) - len(built.contacts)
    return Dataset(
        tickets=[],
        reps=built.reps,
        accounts=built.accounts,
        contacts=built.contacts,
        leads=built.leads[:leads],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--profile", default="healthy", help="a reference CRM profile, e.g. partial_batch")
    args = parser.parse_args()
    started = time.perf_counter()
    dataset = dataset_of(args.records)
    kinds = {
        RecordKind.ACCOUNT: len(dataset.accounts),
        RecordKind.CONTACT: len(dataset.contacts),
        RecordKind.LEAD: len(dataset.leads),
    }
    print(
        f"{args.records} records ({', '.join(f'{n} {k.value}s' for k, n in kinds.items())}) generated in "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )
    token = secrets.token_urlsafe(16)
    os.environ[TOKEN_ENV] = token
    with tempfile.TemporaryDirectory() as tmp, served_crm(token, args.profile) as url:
        adapter = SandboxAdapter(SandboxOptions(base_url=url, token_env=TOKEN_ENV, timeout=120))
        ledger = Ledger(Path(tmp) / "ledger.sqlite")
        ledger.start_run(
            "bench", "sandbox", "sandbox", TAG, 1404, args.records, "fa_IR", "virtual", datetime.now(UTC)
        )
        seeder = Seeder(adapter, ledger, "bench", TAG, adapter.now)
        started = time.perf_counter()
        world = seeder.seed(dataset, lambda lead: None)
        seconds = time.perf_counter() - started
        stats = adapter.call_stats()
        held = {kind: len(adapter.find_tagged(kind, TAG)) for kind in kinds}
        adapter.close()
        ledger.close()
    seeded = len(world.accounts) + len(world.contacts) + len(world.leads)
    size = adapter.max_batch_size
    minimum = sum(math.ceil(n / size) for n in kinds.values())
    batch = stats["batch"]
    others = stats["calls"] - batch["calls"] - len(dataset.reps)
    print(f"seeded {seeded} records in {seconds:.1f} s: {seeded / seconds:,.0f} records/s")
    print(
        f"API calls: {batch['calls']} batch calls of up to {size} (minimum possible {minimum}), "
        f"{len(dataset.reps)} rep creates, {others} others (clock reads for the ledger's timestamps, "
        f"resubmissions, retries); {stats['calls']} in all"
    )
    print(
        f"batch items failed: {batch['failed_items']}, resubmitted alone: {len(seeder.resubmitted)}; "
        f"HTTP retries {stats['retries']}, failures {stats['failures']}"
    )
    duplicates = {kind.value: held[kind] - n for kind, n in kinds.items() if held[kind] != n}
    print("the CRM holds each record once" if not duplicates else f"MISMATCH (held - seeded): {duplicates}")
    if duplicates or seeded != args.records:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
