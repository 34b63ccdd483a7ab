"""Sandbox benchmark: seeding time for 100k tickets, and show/update throughput over loopback
compared with a bare Flask endpoint on the same werkzeug threaded server in the same run.

    .venv/bin/python bench/sandbox_bench.py [--threads 4] [--seconds 5] [--seed-size 100000]

Writes bench/results/sandbox.json (with the command line and the machine's nproc)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import requests
from flask import Flask, Response
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sandbox.core import Sandbox  # noqa: E402 -- after the path setup above
from sandbox.seed import seed_account  # noqa: E402
from sandbox.server import QuietHandler  # noqa: E402
from sandbox.testing import free_port  # noqa: E402

AUTH = ("admin@example.com/token", "sandbox-token")
SERVER_SEED = 2000


def serve_baseline(port: int) -> None:
    """The baseline: Flask on the same server stack, a fixed JSON answer, no state, no auth."""
    app = Flask("baseline")
    payload = json.dumps({"ticket": {"id": 1, "status": "open", "subject": "fixed"}})

    @app.route("/api/v2/tickets/<int:ticket_id>.json", methods=["GET", "PUT"])
    def ticket(ticket_id: int) -> Response:
        return Response(payload, mimetype="application/json")

    make_server("127.0.0.1", port, app, threaded=True, request_handler=QuietHandler).serve_forever()


def wait_up(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {url}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.ConnectionError:
            time.sleep(0.1)
    raise RuntimeError(f"server did not start: {url}")


def _call(http: requests.Session, rng: random.Random, base: str, kind: str) -> int:
    url = f"{base}/api/v2/tickets/{rng.randint(1, SERVER_SEED)}.json"
    if kind == "show":
        return http.get(url, auth=AUTH, timeout=30).status_code
    body = {
        "ticket": {
            "priority": rng.choice(("low", "normal", "high")),
            "comment": {"body": "Bench note", "public": False},
        }
    }
    # Seeded closed tickets answer 422, as Zendesk does; the statuses show how many.
    return http.put(url, json=body, auth=AUTH, timeout=30).status_code


def _client(job: tuple[str, str, float, int, int]) -> dict[int, int]:
    """One client process: `threads` threads calling for `seconds`; answers counted by status."""
    base, kind, seconds, threads, seed = job
    stop = time.monotonic() + seconds
    counts: list[dict[int, int]] = [{} for _ in range(threads)]

    def worker(n: int) -> None:
        rng = random.Random(seed * 100 + n)
        with requests.Session() as http:
            while time.monotonic() < stop:
                status = _call(http, rng, base, kind)
                counts[n][status] = counts[n].get(status, 0) + 1

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    merged: dict[int, int] = {}
    for c in counts:
        for status, n in c.items():
            merged[status] = merged.get(status, 0) + n
    return merged


def load(
    executor: ProcessPoolExecutor,
    *,
    clients: int,
    threads: int,
    seconds: float,
    base: str,
    kind: str,
) -> dict[str, Any]:
    """Several client processes (so the client's GIL is not the bottleneck) for `seconds`."""
    started = time.monotonic()
    parts = list(executor.map(_client, [(base, kind, seconds, threads, n) for n in range(clients)]))
    elapsed = time.monotonic() - started
    merged: dict[str, int] = {}
    for part in parts:
        for status, n in part.items():
            merged[str(status)] = merged.get(str(status), 0) + n
    total = sum(merged.values())
    return {
        "requests": total,
        "seconds": round(elapsed, 3),
        "per_second": round(total / elapsed, 1),
        "statuses": merged,
    }


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    total = sum(r["requests"] for r in runs)
    seconds = sum(r["seconds"] for r in runs)
    statuses: dict[str, int] = {}
    for r in runs:
        for k, v in r["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
    return {
        "requests": total,
        "seconds": round(seconds, 3),
        "per_second": round(total / seconds, 1),
        "rounds": [r["per_second"] for r in runs],
        "statuses": statuses,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=2, help="client processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per client process")
    parser.add_argument("--seconds", type=float, default=4.0, help="per round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seed-size", type=int, default=100_000)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "sandbox.json"))
    parser.add_argument("--serve-baseline", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline:
        serve_baseline(args.serve_baseline)
        return 0

    results: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }

    core = Sandbox()
    started = time.perf_counter()
    summary = seed_account(core.account, args.seed_size, 1)
    results["seed"] = {
        "tickets": args.seed_size,
        "comments": summary["comments"],
        "seconds": round(time.perf_counter() - started, 2),
    }
    print(
        f"seeded {args.seed_size} tickets ({summary['comments']} comments) in {results['seed']['seconds']} s",
        flush=True,
    )
    del core

    sandbox_port, baseline_port = free_port(), free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    sandbox_cmd = [
        sys.executable,
        "-m",
        "sandbox",
        "--port",
        str(sandbox_port),
        "--seed",
        "demo",
        "--seed-size",
        str(SERVER_SEED),
        "--rpm",
        "100000000",
    ]
    baseline_cmd = [sys.executable, __file__, "--serve-baseline", str(baseline_port)]
    processes = [
        subprocess.Popen(sandbox_cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL),
        subprocess.Popen(baseline_cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL),
    ]
    try:
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        baseline_url = f"http://127.0.0.1:{baseline_port}"
        wait_up(sandbox_url + "/sandbox/stats", processes[0])
        wait_up(baseline_url + "/api/v2/tickets/1.json", processes[1])
        requests.post(
            sandbox_url + "/sandbox/limits", json={"ticket_update_limit": 10**9}, timeout=10
        )

        requests.post(sandbox_url + "/sandbox/stats/reset", timeout=10)
        rounds: dict[str, list[dict[str, Any]]] = {}
        with ProcessPoolExecutor(args.clients) as executor:
            # Alternate sandbox and baseline rounds so background load hits both alike.
            for _ in range(args.rounds):
                for kind in ("show", "update"):
                    for name, base in (("baseline", baseline_url), ("sandbox", sandbox_url)):
                        run = load(
                            executor,
                            clients=args.clients,
                            threads=args.threads,
                            seconds=args.seconds,
                            base=base,
                            kind=kind,
                        )
                        rounds.setdefault(f"{name}_{kind}", []).append(run)
        runs = {name: combine(parts) for name, parts in rounds.items()}
        counted = requests.get(sandbox_url + "/sandbox/stats", timeout=10).json()
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=15)
    results["clients"] = args.clients
    results["threads_per_client"] = args.threads
    results["seconds_per_round"] = args.seconds
    results["rounds"] = args.rounds
    results["note"] = (
        "Loopback on a shared machine: clients and servers compete for the same cores, so "
        "compare the ratios of the same run, not absolute numbers across runs."
    )
    results["server_seed_tickets"] = SERVER_SEED
    results["throughput"] = runs
    results["ratios"] = {
        "show_vs_baseline": round(
            runs["sandbox_show"]["per_second"] / runs["baseline_show"]["per_second"], 3
        ),
        "update_vs_baseline": round(
            runs["sandbox_update"]["per_second"] / runs["baseline_update"]["per_second"], 3
        ),
    }
    sent = runs["sandbox_show"]["requests"] + runs["sandbox_update"]["requests"]
    results["stats_count_exact"] = counted["total"] == sent
    for name, run in runs.items():
        print(f"{name:16s} {run['per_second']:8.1f} req/s  {run['statuses']}", flush=True)
    print(
        f"ratios: {results['ratios']}; stats counted every request: {results['stats_count_exact']}",
        flush=True,
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
