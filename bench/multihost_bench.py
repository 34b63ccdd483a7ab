"""Benchmark: cxlayer scaled out on one PostgreSQL, measured end to end in one run.

Three phases on the same workload, each on a fresh database and a fresh sandbox account:

1. `single`: one `flask serve` process (web app + 2 worker threads), no faults (the baseline);
2. `multi`: the web app under gunicorn (service/gunicorn_conf.py, 2 workers) plus 3 `flask
   worker` processes, each its own "host" (own instance directory, own process group);
3. `multi-storm`: as 2, while Zendesk (the sandbox) answers a share of API requests with 429
   and then 503 in alternating storms, and a random worker host is killed with SIGKILL (its
   whole process group) every few seconds and restarted.

The sandbox delivers every webhook, signed, to the web app: M tickets are created by an
agent, put on hold with Zendesk's generic status (the status mapping rule acts: cxlayer's
update fires more events), and answered with a public comment. Reported per phase: webhook
deliveries acknowledged (2xx), events processed, lost (acknowledged but never processed: must
be 0), dead letters, tickets with cxlayer's change applied twice (must be 0), service writes
on the tickets (sandbox audits by cxlayer's user) against the writes the audit table records
(must match), p50/p99 event-to-effect latency (inbox receipt → processing finished) and
throughput (events per second), with the ratio to the single process.

    .venv/bin/python bench/multihost_bench.py [--tickets 60] [--database-url URL]

Without --database-url it starts its own PostgreSQL with .ci/postgres.sh on port 54339
(PGPORT_CI / PGDATA_CI, apart from the test suite's) and stops it afterwards. Leases are 10 s
(CXLAYER_WEBHOOK_LEASE_SECONDS) so a killed host's event is taken over within the run.
Writes bench/results/multihost.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sandbox.testing import SandboxHandle, run_sandbox_process  # noqa: E402 - after the path set-up

RESULT = ROOT / "bench" / "results" / "multihost.json"
AGENT = "bench.agent@mediaocean.example"
NOTE_MARK = "Open – with product/development"
PG_PORT = "54339"
PG_DATA = "/tmp/cxlayer-bench-postgres"  # noqa: S108 - a throwaway local cluster
WORKER_HOSTS = 3
LOGS = Path(tempfile.gettempdir()) / "cxlayer-multihost-logs"  # each process's output


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def postgres(url: str | None) -> Iterator[str]:
    if url:
        yield url
        return
    env = {**os.environ, "PGPORT_CI": PG_PORT, "PGDATA_CI": PG_DATA}
    script = str(ROOT / ".ci" / "postgres.sh")
    out = subprocess.run([script], env=env, check=True, capture_output=True, text=True).stdout
    match = re.search(r"CXLAYER_TEST_DATABASE_URL=(\S+)", out)
    if not match:
        raise SystemExit(f".ci/postgres.sh printed no URL: {out}")
    try:
        yield match.group(1)
    finally:
        subprocess.run([script, "stop"], env=env, check=False, capture_output=True)


def fresh_database(server_url: str, name: str) -> str:
    admin_url = make_url(server_url.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return str(admin_url.set(database=name).render_as_string(hide_password=False)).replace(
        "postgresql+psycopg://", "postgresql://", 1
    )


class Agent:
    """A human agent of the account, driving tickets through the sandbox's API (retrying the
    storms' 429/503 like any well-behaved client)."""

    def __init__(self, zd: SandboxHandle) -> None:
        self.zd = zd
        self.http = requests.Session()
        self.http.headers.update(
            {"Authorization": f"Bearer {zd.oauth_token}", "X-On-Behalf-Of": AGENT}
        )

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        for attempt in range(60):
            response = self.http.request(method, self.zd.base_url + path, json=body, timeout=30)
            if response.status_code in (429, 500, 502, 503):
                time.sleep(min(2.0, 0.2 * (attempt + 1)))
                continue
            response.raise_for_status()
            return response.json()
        raise RuntimeError(f"{method} {path}: still refused after 60 attempts")


class Hosts:
    """The processes of one phase; worker hosts can be killed (SIGKILL to the process group)
    and restarted."""

    def __init__(self, env: dict[str, str], tmp: Path, web_port: int, multi: bool) -> None:
        self.env, self.tmp, self.web_port, self.multi = env, tmp, web_port, multi
        self.web: subprocess.Popen[bytes] | None = None
        self.workers: dict[int, subprocess.Popen[bytes]] = {}
        self.kills = 0
        self.lock = threading.Lock()

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        LOGS.mkdir(exist_ok=True)
        with (LOGS / f"{name}.log").open("ab") as log:
            return subprocess.Popen(
                args,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: one "host"
            )

    def start(self) -> None:
        flask = [sys.executable, "-m", "flask"]
        if not self.multi:
            self.web = self._spawn(
                "serve", [*flask, "--app", "app", "serve", "--port", str(self.web_port)], self.env
            )
        else:
            metrics_dir = self.tmp / "prometheus"
            metrics_dir.mkdir(exist_ok=True)
            web_env = {**self.env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
            self.web = self._spawn(
                "gunicorn",
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-c",
                    str(ROOT / "service" / "gunicorn_conf.py"),
                    "--bind",
                    f"127.0.0.1:{self.web_port}",
                    "app:create_app()",
                ],
                web_env,
            )
            for index in range(WORKER_HOSTS):
                self.start_worker(index)
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{self.web_port}/healthz", timeout=5).ok:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"the web app did not start; see {LOGS}")
            time.sleep(0.3)
        for index, process in self.workers.items():
            if process.poll() is not None:
                self.stop()
                raise SystemExit(f"worker host {index} exited; see {LOGS}")

    def start_worker(self, index: int) -> None:
        instance = self.tmp / f"host-{index}"
        instance.mkdir(exist_ok=True)
        app = f"app:create_app({{'INSTANCE_PATH': {str(instance)!r}}})"
        args = [sys.executable, "-m", "flask", "--app", app, "worker", "-n", "2"]
        if index:
            args.append("--no-scheduler")  # scheduled jobs on one host only
        self.workers[index] = self._spawn(f"host-{index}", args, self.env)

    def kill_random_worker(self, rng: random.Random) -> None:
        with self.lock:
            index = rng.randrange(WORKER_HOSTS)
            process = self.workers[index]
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            self.kills += 1
        time.sleep(1.0)
        with self.lock:
            self.start_worker(index)

    def stop(self) -> None:
        for process in [*self.workers.values(), self.web]:
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in [*self.workers.values(), self.web]:
            if process is not None:
                try:
                    process.wait(timeout=40)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def drive(agent: Agent, zd: SandboxHandle, tickets: int, threads: int = 4) -> list[int]:
    """Each ticket: created, put on hold with the generic status, answered publicly."""
    statuses = agent.call("GET", "/api/v2/custom_statuses.json")["custom_statuses"]
    on_hold = next(s["id"] for s in statuses if s["agent_label"] == "On-hold")
    ids: list[int] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        ticket = agent.call(
            "POST",
            "/api/v2/tickets.json",
            {"ticket": {"subject": f"Export {i} stuck", "comment": {"body": f"Run {i} hangs."}}},
        )["ticket"]
        tid = int(ticket["id"])
        with lock:
            ids.append(tid)
        agent.call("PUT", f"/api/v2/tickets/{tid}.json", {"ticket": {"custom_status_id": on_hold}})
        agent.call(
            "PUT",
            f"/api/v2/tickets/{tid}.json",
            {"ticket": {"comment": {"body": "We are looking into it.", "public": True}}},
        )

    pending = list(range(tickets))

    def loop() -> None:
        while True:
            with lock:
                if not pending:
                    return
                i = pending.pop()
            one(i)

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    return sorted(ids)


def storms(zd: SandboxHandle, stop: threading.Event) -> None:
    """Alternate 6 s of 429s and 6 s of 503s on 30 % of API requests, with calm in between."""
    cycle = [(429, 0.3), (0, 0.0), (503, 0.3), (0, 0.0)]
    i = 0
    while not stop.is_set():
        status, rate = cycle[i % len(cycle)]
        if rate:
            zd.set_faults(error_rate=rate, status=status, random_seed=i)
        else:
            zd.clear_faults()
        i += 1
        stop.wait(6.0)
    zd.clear_faults()


def killer(hosts: Hosts, stop: threading.Event, rng: random.Random) -> None:
    while not stop.wait(rng.uniform(3.0, 7.0)):
        hosts.kill_random_worker(rng)


def wait_drained(zd: SandboxHandle, database_url: str, timeout: float) -> bool:
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    deadline = time.monotonic() + timeout
    calm = 0
    try:
        while time.monotonic() < deadline:
            zd.http.get(zd.base_url + "/sandbox/webhooks?wait=5", timeout=30)
            with engine.connect() as conn:
                unfinished = conn.execute(
                    text("SELECT count(*) FROM inbox WHERE status IN ('pending', 'processing')")
                ).scalar()
            pending_deliveries = [
                d
                for d in zd.http.get(zd.base_url + "/sandbox/webhooks", timeout=30).json()[
                    "deliveries"
                ]
                if d["outcome"] == "pending"
            ]
            calm = calm + 1 if not unfinished and not pending_deliveries else 0
            if calm >= 3:  # three quiet looks in a row: cxlayer's own events have settled too
                return True
            time.sleep(1.0)
        return False
    finally:
        engine.dispose()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(zd: SandboxHandle, database_url: str, ticket_ids: list[int]) -> dict[str, Any]:
    deliveries = zd.http.get(zd.base_url + "/sandbox/webhooks", timeout=30).json()["deliveries"]
    acknowledged = {
        d["invocation_id"]
        for d in deliveries
        if any(a.get("status") and 200 <= a["status"] < 300 for a in d["attempts"])
    }
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT invocation_id, status, kind, received_at, processed_at FROM inbox")
        ).all()
        audit = conn.execute(
            text("SELECT ticket_id, invocation_id, state, api_result FROM audit")
        ).all()
        service_user = conn.execute(
            text("SELECT value FROM state WHERE key = 'zendesk.service_user_id'")
        ).scalar()
    engine.dispose()
    by_invocation = {r.invocation_id: r for r in rows}
    finished = {"done", "ignored"}
    lost = [
        i
        for i in acknowledged
        if by_invocation.get(i) is None or by_invocation[i].status not in finished
    ]
    done = [r for r in rows if r.status == "done"]
    latencies = [(r.processed_at - r.received_at).total_seconds() for r in done]
    span = (
        (max(r.processed_at for r in done) - min(r.received_at for r in done)).total_seconds()
        if done
        else 0.0
    )

    # Writes cxlayer made on the tickets (sandbox audits by its user) against the writes the
    # audit table records: "ok: N update(s)" per event, or 1 for one confirmed on retry.
    service_writes = 0
    twice: list[int] = []
    for tid in ticket_ids:
        audits = zd.api("GET", f"/api/v2/tickets/{tid}/audits.json").json()["audits"]
        service_writes += sum(1 for a in audits if a.get("author_id") == int(service_user))
        comments = zd.api("GET", f"/api/v2/tickets/{tid}/comments.json").json()["comments"]
        if sum(1 for c in comments if not c["public"] and NOTE_MARK in c["body"]) > 1:
            twice.append(tid)
    audited_writes = 0
    per_event: dict[str, str] = {}
    for row in audit:
        if row.state == "applied":
            per_event[row.invocation_id] = row.api_result or ""
    for result in per_event.values():
        match = re.match(r"ok: (\d+) update", result)
        audited_writes += int(match.group(1)) if match else 1
    return {
        "webhook_deliveries": len(deliveries),
        "acknowledged": len(acknowledged),
        "events_stored": len(rows),
        "events_processed": len(done),
        "events_by_status": dict(Counter(r.status for r in rows)),
        "lost": len(lost),
        "dead_letters": sum(1 for r in rows if r.status == "failed"),
        "tickets_changed_twice": len(twice),
        "service_writes_on_tickets": service_writes,
        "writes_in_audit": audited_writes,
        "audit_matches_changes": service_writes == audited_writes,
        "audit_rows_by_state": dict(Counter(r.state for r in audit)),
        "latency_p50_seconds": round(statistics.median(latencies), 3) if latencies else None,
        "latency_p99_seconds": round(percentile(latencies, 0.99), 3),
        "throughput_events_per_second": round(len(done) / span, 2) if span else None,
    }


def run_phase(name: str, server_url: str, tickets: int, *, multi: bool, storm: bool) -> Any:
    database_url = fresh_database(server_url, f"cxlayer_bench_{name.replace('-', '_')}")
    with run_sandbox_process(rpm=1_000_000) as zd, tempfile.TemporaryDirectory() as tmp:
        web_port = free_port()
        env = {
            "PATH": os.environ.get("PATH", ""),
            "CXLAYER_DATABASE_URL": database_url,
            "CXLAYER_ZENDESK_SUBDOMAIN": zd.subdomain,
            "CXLAYER_ZENDESK_URL": zd.base_url,
            "CXLAYER_ZENDESK_EMAIL": zd.email,
            "CXLAYER_ZENDESK_TOKEN": zd.token,
            "CXLAYER_SERVICE_PUBLIC_URL": f"http://127.0.0.1:{web_port}",
            "CXLAYER_LOGGING_LEVEL": "WARNING",
            "CXLAYER_WEBHOOK_LEASE_SECONDS": "10",
            "CXLAYER_WEBHOOK_RETRY_BASE_SECONDS": "1",
        }
        flask = [sys.executable, "-m", "flask", "--app", "app"]
        subprocess.run(
            [*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True
        )
        subprocess.run(
            [*flask, "zendesk", "apply"], cwd=ROOT, env=env, check=True, capture_output=True
        )
        zd.api(
            "POST",
            "/api/v2/users.json",
            json={"user": {"name": "Agent", "email": AGENT, "role": "agent"}},
        )
        hosts = Hosts(env, Path(tmp), web_port, multi)
        hosts.start()
        try:
            return _measured_phase(name, zd, hosts, database_url, tickets, storm=storm)
        finally:
            hosts.stop()


def _measured_phase(
    name: str, zd: SandboxHandle, hosts: Hosts, database_url: str, tickets: int, *, storm: bool
) -> Any:
    stop = threading.Event()
    helpers: list[threading.Thread] = []
    if storm:
        rng = random.Random(7)
        helpers = [
            threading.Thread(target=storms, args=(zd, stop)),
            threading.Thread(target=killer, args=(hosts, stop, rng)),
        ]
        for thread in helpers:
            thread.start()
    started = time.monotonic()
    try:
        ids = drive(Agent(zd), zd, tickets)
        if storm:
            time.sleep(10)  # keep storming and killing while the backlog drains
    finally:
        stop.set()
        for thread in helpers:
            thread.join()
    drained = wait_drained(zd, database_url, timeout=900)
    elapsed = time.monotonic() - started
    hosts.stop()
    result = measure(zd, database_url, ids)
    result.update(
        {
            "drained": drained,
            "wall_seconds": round(elapsed, 1),
            "worker_hosts_killed": hosts.kills,
            "processes": "flask serve (2 worker threads)"
            if not hosts.multi
            else f"gunicorn (2 workers) + {WORKER_HOSTS} flask worker hosts (2 threads each)",
            "faults": "429 and 503 storms on 30% of API requests, 6 s on / 6 s off"
            if storm
            else None,
        }
    )
    print(f"{name}: {json.dumps(result)}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=60)
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server (admin role)")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with postgres(args.database_url) as server_url:
        results["single"] = run_phase("single", server_url, args.tickets, multi=False, storm=False)
        results["multi"] = run_phase("multi", server_url, args.tickets, multi=True, storm=False)
        results["multi-storm"] = run_phase(
            "multi-storm", server_url, args.tickets, multi=True, storm=True
        )
    base = results["single"]["throughput_events_per_second"] or 0
    for name in ("multi", "multi-storm"):
        own = results[name]["throughput_events_per_second"] or 0
        results[name]["throughput_vs_single"] = round(own / base, 2) if base else None
    output = {
        "command": "python " + shlex.join(["bench/multihost_bench.py", *sys.argv[1:]]),
        "python": platform.python_version(),
        "machine": f"{os.cpu_count()} cores, shared with other work",
        "tickets_per_phase": args.tickets,
        "results": results,
    }
    RESULT.write_text(json.dumps(output, indent=2) + "\n")
    print(f"written to {RESULT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
