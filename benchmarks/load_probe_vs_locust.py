"""Benchmark: the harness's load probe against Locust, on the same endpoints of the same reference CRM.

The CRM is served by uvicorn on 127.0.0.1 in a process of its own (so client and server each get a
core of a 2-core machine); both tools drive the same read and write requests (GET a lead, GET its
tasks, POST an account for a fifth of them) with the same number of users, bounded by the same time
and request caps.  Printed: requests/second, the client's CPU (cores used) and requests per CPU-second
of the client ("per core"), and the probe/Locust ratios.

    python benchmarks/load_probe_vs_locust.py [--users 50] [--seconds 10] [--max-requests 20000]
                                              [--locust-user fast|http|both] [--rounds 1]

With several rounds the tools take turns and the medians are compared (a shared machine is noisy).

Needs Locust (``pip install -e '.[dev]'``).  Loopback only.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adapters.sandbox import SandboxAdapter, SandboxOptions  # noqa: E402
from benchmarks.served import served_crm  # noqa: E402
from fixtures.factories import build_dataset  # noqa: E402
from poc_harness.contract.adapter import RecordKind  # noqa: E402
from poc_harness.probes.loadprobe import GOLDEN, ProbeLimits, run_probe  # noqa: E402

TOKEN_ENV = "POC_BENCH_TOKEN"
CONFIG_ENV = "POC_LOCUST_CONFIG"
WRITE_SHARE = 0.2
LOCUSTFILE = '''
"""Locust users replaying the load probe's requests (written by benchmarks/load_probe_vs_locust.py)."""
import itertools, json, os, time
import gevent
from locust import HttpUser, FastHttpUser, constant, events, task
from locust.exception import StopUser

CONFIG = json.loads(os.environ["%(config_env)s"])
LEADS = CONFIG["leads"]
SENT = itertools.count()
CPU = {}


@events.test_start.add_listener
def started(**_):
    CPU["start"] = time.process_time()


@events.test_stop.add_listener
def stopped(**_):
    with open(CONFIG["cpu_file"], "w") as out:
        json.dump({"cpu_s": time.process_time() - CPU["start"]}, out)


class Replay(%(user_class)s):
    wait_time = constant(0)

    @task
    def step(self):
        n = next(SENT)
        if n >= CONFIG["max_requests"]:
            gevent.spawn(self.environment.runner.quit)
            raise StopUser()
        auth = {"Authorization": "Bearer " + CONFIG["token"]}
        if (n * CONFIG["golden"]) %% 1.0 < CONFIG["write_share"]:
            body = {"name": "Locust %%d" %% n, "industry": "load probe", "city": "Tehran",
                    "phone": "+98210%%07d" %% (n %% 10**7), "tag": CONFIG["tag"],
                    "external_ref": "locust-%%d" %% n}
            self.client.post("/accounts", json=body, headers=auth, name="POST /accounts")
        elif n %% 2:
            self.client.get("/leads/" + LEADS[n %% len(LEADS)], headers=auth, name="GET /leads/{id}")
        else:
            self.client.get("/leads/" + LEADS[n %% len(LEADS)] + "/tasks", headers=auth,
                            name="GET /leads/{id}/tasks")
'''


@dataclass
class Measured:
    tool: str
    requests: int
    failures: int
    wall_s: float
    cpu_s: float

    @property
    def per_second(self) -> float:
        return self.requests / self.wall_s if self.wall_s else 0.0

    @property
    def cores(self) -> float:
        return self.cpu_s / self.wall_s if self.wall_s else 0.0

    @property
    def per_core_second(self) -> float:
        return self.requests / self.cpu_s if self.cpu_s else 0.0

    def line(self) -> str:
        return (
            f"{self.tool:<22} {self.requests:>7} req ({self.failures} failed) in {self.wall_s:5.2f} s: "
            f"{self.per_second:7.0f} req/s, client CPU {self.cores:4.2f} cores, "
            f"{self.per_core_second:7.0f} req per core-second"
        )


def run_probe_once(adapter: SandboxAdapter, leads: list[str], args: argparse.Namespace) -> Measured:
    targets = adapter.load_targets("benchprobe", {RecordKind.LEAD: leads})
    limits = ProbeLimits(
        users=args.users, duration_s=args.seconds, max_requests=args.max_requests, write_share=WRITE_SHARE
    )
    cpu = time.process_time()
    result = run_probe(targets, limits)
    cpu_s = time.process_time() - cpu
    return Measured("load probe (httpx)", result.sent, result.sent - result.ok, result.elapsed_s, cpu_s)


def run_locust(url: str, token: str, leads: list[str], args: argparse.Namespace, user_class: str) -> Measured:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        locustfile = folder / "locustfile.py"
        locustfile.write_text(LOCUSTFILE % {"config_env": CONFIG_ENV, "user_class": user_class})
        config = {
            "token": token,
            "leads": leads,
            "max_requests": args.max_requests,
            "write_share": WRITE_SHARE,
            "golden": GOLDEN,
            "tag": "benchlocust",
            "cpu_file": str(folder / "cpu.json"),
        }
        command = [
            *("locust", "-f", str(locustfile), "--headless", "--only-summary"),
            *("-u", str(args.users), "-r", str(args.users), "-t", f"{args.seconds}s"),
            *("--host", url, "--json-file", str(folder / "stats"), "--loglevel", "ERROR"),
            *("--exit-code-on-error", "0", "--stop-timeout", "5"),
        ]
        env = {**os.environ, CONFIG_ENV: json.dumps(config)}
        done = subprocess.run(
            command, cwd=folder, env=env, capture_output=True, text=True, timeout=args.seconds + 60
        )
        if done.returncode != 0:
            raise SystemExit(f"locust failed ({done.returncode}): {done.stderr[-500:]}")
        stats = json.loads((folder / "stats.json").read_text())
        cpu_s = json.loads((folder / "cpu.json").read_text())["cpu_s"]
    requests = sum(entry["num_requests"] for entry in stats)
    failures = sum(entry["num_failures"] for entry in stats)
    wall_s = max(e["last_request_timestamp"] for e in stats) - min(e["start_time"] for e in stats)
    return Measured(f"locust ({user_class})", requests, failures, wall_s, cpu_s)


def _median(runs: list[Measured]) -> Measured:
    """The run with the median requests per core-second."""
    return sorted(runs, key=lambda run: run.per_core_second)[len(runs) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--max-requests", type=int, default=20_000)
    parser.add_argument("--locust-user", choices=["fast", "http", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=1, help="turns per tool; the medians are compared")
    args = parser.parse_args()
    token = secrets.token_urlsafe(16)
    os.environ[TOKEN_ENV] = token
    with served_crm(token) as url:
        adapter = SandboxAdapter(SandboxOptions(base_url=url, token_env=TOKEN_ENV))
        dataset = build_dataset(40, 1, "en_US", "benchseed")
        for rep in dataset.reps:
            adapter.create_sales_rep(rep)
        leads = [adapter.create_lead(lead) for lead in dataset.leads[:20]]
        print(
            f"{os.cpu_count()} cores; reference CRM served on {url} in its own process; {args.users} users, "
            f"at most {args.seconds:g} s and {args.max_requests} requests each run; a fifth are writes"
        )
        kinds = {"fast": ["FastHttpUser"], "http": ["HttpUser"], "both": ["FastHttpUser", "HttpUser"]}
        runs: dict[str, list[Measured]] = {}
        for _ in range(args.rounds):
            for tool in ["probe", *kinds[args.locust_user]]:
                if tool == "probe":
                    measured = run_probe_once(adapter, leads, args)
                else:
                    measured = run_locust(url, token, leads, args, tool)
                print(measured.line(), flush=True)
                runs.setdefault(measured.tool, []).append(measured)
        probe = _median(runs.pop("load probe (httpx)"))
        if args.rounds > 1:
            print(f"medians of {args.rounds} rounds:\n{probe.line()}")
        for measured in runs.values():
            locust = _median(measured)
            if args.rounds > 1:
                print(locust.line())
            print(
                f"  probe / {locust.tool}: {probe.per_second / locust.per_second:4.2f}x req/s, "
                f"{probe.per_core_second / locust.per_core_second:4.2f}x req per core-second"
            )
        adapter.close()


if __name__ == "__main__":
    main()
