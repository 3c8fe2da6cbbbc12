"""Nothing is lost and nothing foreign is deleted: the ledger holds each record before its create call
returns, a resumed run creates no duplicates, and cleanup removes exactly what one run created."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from adapters.sandbox import SandboxAdapter, SandboxOptions
from fixtures.factories import build_dataset
from poc_harness.contract.adapter import RecordKind
from poc_harness.contract.model import Account
from poc_harness.errors import ConfigError, VendorError
from poc_harness.run.cleanup import cleanup
from poc_harness.run.ledger import Ledger
from poc_harness.run.seeding import Seeder
from poc_harness.sandbox.server import BackgroundServer
from tests.suite_runner import ROOT, run_suite

TOKEN = "cleanup-test-token-51c0"


def _now() -> datetime:
    return datetime.now(UTC)


def test_record_is_in_the_ledger_before_the_call_and_resume_skips_it(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    ledger.start_run("r1", "v", "sandbox", "tag", 1, 20, "en_US", "virtual", _now())
    seeder = Seeder(SandboxAdapter(SandboxOptions()), ledger, "r1", "tag", _now)
    seen_during_call: list[list[str | None]] = []

    def crashing_call() -> str:
        seen_during_call.append([r.vendor_id for r in ledger.records("r1")])
        raise VendorError("connection reset after the vendor committed")

    with pytest.raises(VendorError):
        seeder.create(RecordKind.ACCOUNT, {"name": "x"}, "acct-1", crashing_call)
    assert seen_during_call == [[None]], "the record must be in the ledger before the call is made"
    calls = []
    vendor_id = seeder.create(RecordKind.ACCOUNT, {"name": "x"}, "acct-1", lambda: calls.append(1) or "V1")
    assert vendor_id == "V1" and ledger.vendor_id("r1", "account", "acct-1") == "V1"
    again = seeder.create(RecordKind.ACCOUNT, {"name": "x"}, "acct-1", lambda: calls.append(1) or "V2")
    assert again == "V1" and len(calls) == 1, "a resumed run must not create the record twice"


def _count(url: str, collection: str, **params: str) -> int:
    answer = httpx.get(f"{url}/{collection}", params=params, headers={"Authorization": f"Bearer {TOKEN}"})
    answer.raise_for_status()
    return len(answer.json())


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "poc_harness.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
    )


def test_cleanup_removes_exactly_the_runs_records(tmp_path: Path) -> None:
    env = {"SERVED_TOKEN": TOKEN}
    with BackgroundServer(token=TOKEN) as url:
        foreign = httpx.post(
            f"{url}/accounts",
            headers={"Authorization": f"Bearer {TOKEN}"},
            json={"name": "Customer data, not ours", "industry": "x", "city": "y", "phone": "+1"},
        )
        foreign.raise_for_status()
        config = tmp_path / "poc.toml"
        config.write_text(
            f'[harness]\nreports_dir = "{tmp_path / "reports"}"\nledger = "{tmp_path / "ledger.sqlite"}"\n'
            f'[vendors.served]\nadapter = "sandbox"\nbase_url = "{url}"\ntoken_env = "SERVED_TOKEN"\n'
        )
        run = run_suite(tmp_path, "--vendor=served", env=env)
        assert run.results, run.stdout + run.stderr
        run_id, tag = run.results["run"]["run_id"], run.results["run"]["tag"]
        assert _count(url, "leads", tag=tag) > 0
        common = ["--vendor=served", f"--poc-config={config}", f"--run={run_id}"]
        dry = _cli("cleanup", *common, "--dry-run", env=env)
        assert dry.returncode == 0 and "would delete" in dry.stdout, dry.stderr
        assert _count(url, "leads", tag=tag) > 0, "a dry run deletes nothing"
        wrong = _cli("cleanup", "--vendor=sandbox", f"--poc-config={config}", f"--run={run_id}", env=env)
        assert wrong.returncode == 2 and "pass --vendor=served" in wrong.stderr
        done = _cli("cleanup", *common, env=env)
        assert done.returncode == 0, done.stderr
        for collection in ("users", "accounts", "contacts", "leads", "deals", "activities"):
            assert _count(url, collection, tag=tag) == 0, collection
        assert _count(url, "deals") == 0 and _count(url, "activities") == 0
        assert _count(url, "accounts") == 1, "the record created outside the harness must survive"
    ledger = Ledger(tmp_path / "ledger.sqlite")
    assert ledger.records(run_id, live_only=True) == []
    dataset = build_dataset(200, 1404, "fa_IR", tag)
    seeded = [r for r in ledger.records(run_id) if r.payload.get("tag") == tag]  # not the suites' probes
    keys = {r.key for r in seeded}
    assert len(keys) == len(seeded), "no record seeded twice"
    every = [*dataset.reps, *dataset.accounts, *dataset.contacts, *dataset.leads, *dataset.tickets]
    assert {r.key for r in every} <= keys, "every record of the dataset is in the ledger"
    extra = {r.kind for r in seeded if r.key not in {e.key for e in every}}
    assert extra <= {"activity", "deal", "ticket"}, extra  # what the stories add: the ticket paths' copies


def _served(url: str) -> SandboxAdapter:
    return SandboxAdapter(SandboxOptions(base_url=url, token_env="SERVED_TOKEN"))


def _three_accounts_seeded(url: str, ledger: Ledger) -> SandboxAdapter:
    """Run r1 (tag ``tag-r1``) seeds accounts a0, a1, a2 into the CRM served at ``url``."""
    adapter = _served(url)
    ledger.start_run("r1", "served", "sandbox", "tag-r1", 1, 1, "en_US", "virtual", _now(), url)
    seeder = Seeder(adapter, ledger, "r1", "tag-r1", _now)
    for n in range(3):
        account = Account(
            key=f"a{n}", tag="tag-r1", name=f"Acme {n}", industry="x", city="y", phone="+15550002"
        )
        seeder.create(RecordKind.ACCOUNT, account, f"a{n}", lambda a=account: adapter.create_account(a))
    return adapter


def test_a_lost_answer_is_recovered_by_the_run_tag_and_a_refused_write_is_not() -> None:
    ledger = Ledger(Path(":memory:"))
    adapter = SandboxAdapter(SandboxOptions())
    seeder = Seeder(adapter, ledger, "r1", "tag-r1", _now)
    ledger.start_run("r1", "v", "sandbox", "tag-r1", 1, 1, "en_US", "virtual", _now())
    account = {"name": "Acme", "industry": "x", "city": "y", "phone": "+15550002", "tag": "tag-r1"}

    def applied_but_unanswered() -> str:
        adapter.http.json("POST", "/accounts", json={**account, "external_ref": "acct-1"})
        raise VendorError("POST /accounts: connection dropped mid-answer", maybe_applied=True)

    vendor_id = seeder.create(RecordKind.ACCOUNT, account, "acct-1", applied_but_unanswered)
    assert vendor_id == adapter.find_tagged(RecordKind.ACCOUNT, "tag-r1")[0] and seeder.recovered == [
        "acct-1"
    ]

    def refused() -> str:
        raise VendorError("POST /accounts: HTTP 422: phone is invalid")

    with pytest.raises(VendorError, match="422"):
        seeder.create(RecordKind.ACCOUNT, account, "acct-2", refused)
    assert [r.key for r in ledger.unbound("r1")] == ["acct-2"]
    assert seeder.reconcile()[0].key == "acct-2", "a create the vendor refused stays unconfirmed"
    adapter.close()


def test_cleanup_refuses_a_ledger_written_against_another_instance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SERVED_TOKEN", TOKEN)
    ledger = Ledger(tmp_path / "ledger.sqlite")
    served = BackgroundServer(token=TOKEN)
    crm = served._server.config.app.state.crm  # to retag one record behind the harness's back
    with served as used, BackgroundServer(token=TOKEN) as other:
        adapter = _three_accounts_seeded(used, ledger)
        wrong = _served(other)
        with pytest.raises(ConfigError, match="point base_url at the instance the run used"):
            cleanup(wrong, ledger, "r1", "served", dry_run=True)
        ledger._db.execute("UPDATE runs SET endpoint=''")  # a ledger from before endpoints were kept
        with pytest.raises(ConfigError, match="none of the 3 records of run r1 carries its tag"):
            cleanup(wrong, ledger, "r1", "served", dry_run=False)
        assert len(ledger.records("r1", live_only=True)) == 3, "a refused cleanup deletes nothing"
        dry = cleanup(adapter, ledger, "r1", "served", dry_run=True)
        assert [r.key for r in dry.deleted] == ["a0", "a1", "a2"] and _count(used, "accounts") == 3
        crm.data["accounts"][dry.deleted[0].vendor_id]["tag"] = "someone-else"
        done = cleanup(adapter, ledger, "r1", "served", dry_run=False)
        assert [r.key for r in done.deleted] == ["a1", "a2"] and [r.key for r in done.untagged] == ["a0"]
        assert _count(used, "accounts") == 1, "a record no longer carrying the run's tag is left alone"
        for each in (adapter, wrong):
            each.close()


def test_a_delete_the_vendor_fails_is_reported_kept_and_deleted_by_the_next_cleanup(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SERVED_TOKEN", TOKEN)
    ledger = Ledger(Path(":memory:"))
    with BackgroundServer(token=TOKEN) as url:
        adapter = _three_accounts_seeded(url, ledger)
        flaky = ledger.vendor_id("r1", "account", "a1")
        delete = adapter.delete
        failed: list[str] = []

        def failing_once(kind: RecordKind, vendor_id: str) -> bool:
            if vendor_id == flaky and not failed:
                failed.append(vendor_id)
                raise VendorError("DELETE /accounts/{id}: HTTP 500")
            return delete(kind, vendor_id)

        monkeypatch.setattr(adapter, "delete", failing_once)
        first = cleanup(adapter, ledger, "r1", "served", dry_run=False)
        assert [r.key for r in first.deleted] == ["a0", "a2"], "one failed delete does not stop the others"
        assert [(r.key, "HTTP 500" in why) for r, why in first.failed] == [("a1", True)]
        assert [r.key for r in ledger.records("r1", live_only=True)] == ["a1"]
        second = cleanup(adapter, ledger, "r1", "served", dry_run=False)
        assert [r.key for r in second.deleted] == ["a1"] and not second.failed
        assert adapter.find_tagged(RecordKind.ACCOUNT, "tag-r1") == []
        adapter.close()


class _Gateway(httpx.BaseTransport):
    """A gateway in front of the CRM: every ``every``-th POST is passed on (the CRM applies it), but the
    caller gets 503 with Retry-After, the way a gateway answers when the upstream answer is slow."""

    def __init__(self, inner: httpx.BaseTransport, every: int = 2) -> None:
        self.inner, self.every, self.posts, self.applied_then_503 = inner, every, 0, 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == "POST":
            self.posts += 1
            if self.posts % self.every == 0:
                response.read()
                self.applied_then_503 += 1
                return httpx.Response(503, headers={"Retry-After": "0"}, json={"error": "upstream timeout"})
        return response


def test_a_post_applied_upstream_but_answered_503_is_looked_up_never_duplicated(tmp_path: Path) -> None:
    """Every second POST is applied by the CRM but answered 503 by the gateway: the seeder looks each one up
    by the run's tag and the harness's key before sending it again, so no ticket is there twice and every
    one is in the ledger."""
    ledger = Ledger(tmp_path / "ledger.sqlite")
    adapter = SandboxAdapter(SandboxOptions())
    gateway = _Gateway(adapter.http._client._transport)
    adapter.http._client._transport = gateway
    ledger.start_run("r1", "sandbox", "sandbox", "tag-r1", 1, 20, "en_US", "virtual", _now())
    seeder = Seeder(adapter, ledger, "r1", "tag-r1", _now)
    dataset = build_dataset(40, 7, "en_US", "tag-r1")
    contact = dataset.contacts[0]
    account_id = seeder.create(
        RecordKind.ACCOUNT, dataset.accounts[0], "acct", lambda: adapter.create_account(dataset.accounts[0])
    )
    contact_id = seeder.create(
        RecordKind.CONTACT, contact, contact.key, lambda: adapter.create_contact(contact, account_id)
    )
    tickets = [t.model_copy(update={"contact_key": contact.key}) for t in dataset.tickets]
    for ticket in tickets:
        create = lambda t=ticket: adapter.create_ticket(t, contact_id)  # noqa: E731
        seeder.create(RecordKind.TICKET, ticket, ticket.key, create)
    assert gateway.applied_then_503 >= 2
    at_vendor = adapter.find_tagged(RecordKind.TICKET, "tag-r1")
    assert len(at_vendor) == len(tickets), "a write answered 503 was sent again blindly: duplicates"
    assert sorted(at_vendor) == sorted(r.vendor_id for r in ledger.records("r1", "ticket"))
    assert seeder.recovered, "the applied writes were found by the run's tag and key"
    adapter.close()


def test_cleanup_deletes_every_tagged_record_even_unknown_to_the_ledger_and_fails_while_any_remains(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A duplicate the ledger never got an id for (a 503 applied upstream, retried by an older harness) is
    under the run's tag: cleanup deletes it, lists it, touches nothing untagged, and exits 0 only once nothing
    under the tag is left."""
    monkeypatch.setenv("SERVED_TOKEN", TOKEN)
    from poc_harness import cli

    with BackgroundServer(token=TOKEN) as url:
        ledger = Ledger(tmp_path / "ledger.sqlite")
        adapter = _three_accounts_seeded(url, ledger)
        ledger.close()
        headers = {"Authorization": f"Bearer {TOKEN}"}
        duplicate = {"name": "Acme 1", "industry": "x", "city": "y", "phone": "+15550002", "tag": "tag-r1"}
        stranger = httpx.post(f"{url}/accounts", headers=headers, json=duplicate).json()["id"]
        httpx.post(f"{url}/accounts", headers=headers, json={**duplicate, "tag": None}).raise_for_status()
        config = tmp_path / "poc.toml"
        config.write_text(
            f'[harness]\nledger = "{tmp_path / "ledger.sqlite"}"\n'
            f'[vendors.served]\nadapter = "sandbox"\nbase_url = "{url}"\ntoken_env = "SERVED_TOKEN"\n'
        )
        delete = SandboxAdapter.delete
        refusing = {stranger}

        def stubborn(self: SandboxAdapter, kind: RecordKind, vendor_id: str) -> bool:
            if vendor_id in refusing:
                raise VendorError(f"DELETE /accounts/{vendor_id}: HTTP 500")
            return delete(self, kind, vendor_id)

        monkeypatch.setattr(SandboxAdapter, "delete", stubborn)
        args = ["cleanup", "--vendor=served", f"--poc-config={config}", "--run=r1"]
        assert cli.main(args) == 1, "a tagged record is left: cleanup is not done"
        assert adapter.find_tagged(RecordKind.ACCOUNT, "tag-r1") == [stranger]
        refusing.clear()
        assert cli.main(args) == 0
        assert adapter.find_tagged(RecordKind.ACCOUNT, "tag-r1") == []
        assert _count(url, "accounts") == 1, "the untagged record is not the run's: it stays"
        adapter.close()
