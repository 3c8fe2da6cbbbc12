"""``poc-harness``: what is not a test run: vendors, doctor, cleanup, and serving the reference CRM."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from poc_harness import exitcodes
from poc_harness.adapter import CRMAdapter, build_adapter, discover
from poc_harness.cleanup import cleanup
from poc_harness.config import PocConfig, load_config
from poc_harness.errors import ConfigError, PocError, VendorError
from poc_harness.ledger import Ledger
from poc_harness.outage import signals_down
from poc_harness.redaction import REDACTOR
from poc_harness.report.publish import compare, publish
from poc_harness.sandbox.profiles import PROFILES


def _vendors(_: argparse.Namespace) -> int:
    for name, cls in sorted(discover().items()):
        caps = ", ".join(sorted(c.value for c in cls.capabilities)) or "none"
        lacks = ", ".join(sorted(c.value for c in cls.vendor_lacks)) or "none documented"
        print(f"{name}: default clock {cls.default_clock.value}; capabilities: {caps}; vendor lacks: {lacks}")
    print("sandbox profiles: " + ", ".join(f"{p.name} ({p.description})" for p in PROFILES.values()))
    return 0


def _build(args: argparse.Namespace) -> tuple[PocConfig, CRMAdapter]:
    config = load_config(args.poc_config)
    return config, build_adapter(config, args.vendor)


def _doctor(args: argparse.Namespace) -> int:
    config, adapter = _build(args)
    try:
        answered = adapter.check_connection()
    except VendorError as exc:
        if not signals_down(exc):
            raise
        print(f"poc-harness: vendor {args.vendor} is down: {REDACTOR(str(exc))}", file=sys.stderr)
        return exitcodes.VENDOR_DOWN
    finally:
        adapter.close()
    print(f"ok: config {config.source}; vendor {args.vendor} answered: {answered}")
    return 0


def _cleanup(args: argparse.Namespace) -> int:
    config, adapter = _build(args)
    ledger = Ledger(args.ledger or config.harness.ledger)
    try:
        report = cleanup(adapter, ledger, args.run, args.vendor.partition(":")[0], args.dry_run)
    finally:
        adapter.close()
        ledger.close()
    verb = "would delete" if args.dry_run else "deleted"
    print(
        f"{verb} {len(report.deleted)} record(s) of run {args.run}; "
        f"already gone: {len(report.already_gone)}; "
        f"under the run's tag but not in the ledger ({verb}): {len(report.unlisted)}; "
        f"not under the run's tag (left alone): {len(report.untagged)}; "
        f"never reached the vendor: {len(report.unbound)}"
    )
    for record in report.deleted if args.dry_run else []:
        print(f"  {record.kind} {record.key} -> {record.vendor_id}")
    for kind, vendor_id, tag in report.unlisted:
        print(f"  {verb} (not in the ledger): {kind} {vendor_id} under tag {tag}")
    for record in report.untagged:
        print(f"  left alone: {record.kind} {record.key} -> {record.vendor_id} (not under the run's tag)")
    for record, reason in report.failed:
        print(f"  not deleted: {record.kind} {record.key} -> {record.vendor_id}: {reason}")
    for kind, vendor_id, tag in report.remaining:
        print(f"  still tagged: {kind} {vendor_id} under tag {tag}")
    if not report.complete:
        print(
            f"poc-harness: cleanup of run {args.run} incomplete: {len(report.failed)} delete(s) failed, "
            f"{len(report.remaining)} record(s) still carry the run's tag: run the same cleanup again",
            file=sys.stderr,
        )
        return 1
    return 0


def _unlock(args: argparse.Namespace) -> int:
    config = load_config(args.poc_config)
    ledger = Ledger(args.ledger or config.harness.ledger)
    try:
        released = ledger.unlock(args.vendor.partition(":")[0])
    finally:
        ledger.close()
    print(f"{'released' if released else 'no'} lock of vendor {args.vendor} in {ledger.path}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    from poc_harness.sandbox.server import serve

    token = os.environ.get(args.token_env, "")
    if not token:
        raise ConfigError(
            f"environment variable {args.token_env} is not set: export it with the API token "
            "clients must send as 'Authorization: Bearer <token>'"
        )
    if args.profile not in PROFILES:
        raise ConfigError(f"unknown profile '{args.profile}': choose one of {', '.join(PROFILES)}")
    print(f"reference CRM (profile {args.profile}) on http://{args.host}:{args.port} - API docs at /docs")
    serve(args.host, args.port, args.profile, token)
    return 0


def _report(args: argparse.Namespace) -> int:
    config = load_config(args.poc_config)
    json_path, html = publish(
        args.results, config, args.lang, args.satisfaction, args.scorecard, ledger=args.ledger
    )
    print(f"acceptance: {json_path}\nreport: {html}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    try:
        print(f"comparison: {compare(args.reports_dir, args.lang, args.out)}")
    except FileNotFoundError as exc:
        raise ConfigError(str(exc)) from None
    return 0


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="poc-harness",
        description=__doc__,
        epilog=f"Trial runs (pytest scenarios/ --vendor=NAME) {exitcodes.HELP} 'poc-harness doctor' exits "
        f"{exitcodes.VENDOR_DOWN} when the vendor is down; 'poc-harness cleanup' exits 1 while anything "
        "under the run's tag is left.",
    )
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("vendors", help="list the installed adapters and the sandbox profiles").set_defaults(
        handler=_vendors
    )

    def with_vendor(name: str, text: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=text)
        sub.add_argument("--vendor", required=True)
        sub.add_argument("--poc-config", type=Path)
        return sub

    with_vendor("doctor", "check the configuration and reach the vendor").set_defaults(handler=_doctor)
    clean = with_vendor("cleanup", "delete the records one run created (and only those)")
    clean.add_argument("--run", required=True, help="the run id (see the results JSON or the report)")
    clean.add_argument("--ledger", type=Path)
    clean.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")
    clean.set_defaults(handler=_cleanup)
    unlock = with_vendor("unlock", "release the vendor's run lock left by a run whose process is gone")
    unlock.add_argument("--ledger", type=Path)
    unlock.set_defaults(handler=_unlock)

    report = commands.add_parser(
        "report",
        help="grade a run's results JSON and render its acceptance report, with the trial's timeline "
        "from the other documents in its folder",
    )
    report.add_argument("results", type=Path, help="reports/<vendor>-<run>.json")
    report.add_argument("--poc-config", type=Path)
    report.add_argument("--lang", choices=["en", "fa"], default="en")
    report.add_argument("--satisfaction", type=Path, help="tester survey answers (CSV or YAML)")
    report.add_argument("--scorecard", type=Path, help="the committee's scorecard (YAML)")
    report.add_argument(
        "--ledger",
        type=Path,
        help="ledger for the trial timeline's expectation figures (default from config; without it, "
        "the earlier acceptance documents next to RESULTS give them)",
    )
    report.set_defaults(handler=_report)
    side = commands.add_parser("compare", help="every vendor's latest run side by side")
    side.add_argument("--reports-dir", type=Path, default=Path("reports"))
    side.add_argument("--lang", choices=["en", "fa"], default="en")
    side.add_argument("--out", type=Path)
    side.set_defaults(handler=_compare)

    sandbox = commands.add_parser("sandbox", help="the embedded reference CRM")
    sandbox_commands = sandbox.add_subparsers(dest="sandbox_command", required=True)
    serve = sandbox_commands.add_parser("serve", help="serve the reference CRM over HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8765)
    serve.add_argument("--profile", default="healthy", help="a defect profile (see 'poc-harness vendors')")
    serve.add_argument("--token-env", default="POC_SANDBOX_TOKEN", help="variable holding the API token")
    serve.set_defaults(handler=_serve)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except PocError as exc:
        print(f"poc-harness: error: {REDACTOR(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
