"""Benchmark: signed webhook events accepted per second and p50/p99 acknowledgement latency of
POST /webhooks/zendesk under gunicorn (2 workers, 127.0.0.1), beside a bare Flask endpoint
returning 204 under the same gunicorn settings in the same run. Writes bench/results/webhook.json.

    .venv/bin/python bench/webhook_bench.py [--requests 2000] [--threads 8] [--database-url URL]

Without --database-url the service uses a fresh SQLite file (the default deployment).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import requests
from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from webhooks.signature import (  # noqa: E402 - after the path set-up, for direct runs
    INVOCATION_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    sign,
)

SECRET = "bench-secret-0001"  # noqa: S105 - a throwaway secret for a local benchmark
GUNICORN_WORKERS = 2


def create_bare_app() -> Flask:
    """The baseline: the smallest Flask app answering the same POST with 204."""
    bare = Flask("bare")

    @bare.post("/webhooks/zendesk")
    def receive() -> tuple[str, int]:
        return "", 204

    return bare


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_gunicorn(target: str, env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(GUNICORN_WORKERS),
        "--bind",
        f"127.0.0.1:{port}",
        "--pythonpath",
        f"{ROOT},{ROOT / 'bench'}",
        "--log-level",
        "warning",
        target,
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            err = process.stderr.read().decode() if process.stderr else ""
            raise SystemExit(f"gunicorn {target} exited: {err}")
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=5)
            return process
        except requests.RequestException:  # not listening yet, or workers still booting
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"gunicorn {target} did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stderr:
        process.stderr.close()


def signed_requests(count: int) -> list[tuple[bytes, dict[str, str]]]:
    """Pre-signed (body, headers) pairs so the client spends its time sending, not hashing."""
    prepared = []
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for n in range(count):
        body = json.dumps(
            {
                "event": "status_changed",
                "ticket_id": str(n % 500 + 1),
                "status": "open",
                "custom_status_id": "9001",
                "updated_at": stamp,
                "requester_id": "555",
                "current_user_id": "777",
            }
        ).encode()
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: sign(SECRET, stamp, body),
            INVOCATION_HEADER: str(uuid.uuid4()),
        }
        prepared.append((body, headers))
    return prepared


def load(
    url: str, prepared: list[tuple[bytes, dict[str, str]]], threads: int
) -> tuple[list[float], dict[int, int], float]:
    """Send every prepared request once from `threads` sessions: latencies, statuses, seconds."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    shards = [prepared[i::threads] for i in range(threads)]

    def run(shard: list[tuple[bytes, dict[str, str]]]) -> None:
        mine: list[float] = []
        codes: dict[int, int] = {}
        with requests.Session() as http:
            for body, headers in shard:
                started = time.perf_counter()
                response = http.post(url, data=body, headers=headers, timeout=30)
                mine.append(time.perf_counter() - started)
                codes[response.status_code] = codes.get(response.status_code, 0) + 1
        with lock:
            latencies.extend(mine)
            for code, n in codes.items():
                statuses[code] = statuses.get(code, 0) + n

    workers = [threading.Thread(target=run, args=(shard,)) for shard in shards]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return latencies, statuses, time.perf_counter() - started


def summarise(rounds: list[tuple[list[float], dict[int, int], float]]) -> dict[str, Any]:
    ordered = sorted(latency for latencies, _, _ in rounds for latency in latencies)
    seconds = sum(elapsed for _, _, elapsed in rounds)
    statuses: dict[str, int] = {}
    for _, codes, _ in rounds:
        for code, n in codes.items():
            statuses[str(code)] = statuses.get(str(code), 0) + n
    return {
        "requests": len(ordered),
        "seconds": round(seconds, 3),
        "per_second": round(len(ordered) / seconds, 1),
        "per_second_by_round": [round(len(lat) / el, 1) for lat, _, el in rounds],
        "p50_ms": round(statistics.median(ordered) * 1000, 2),
        "p99_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000, 2),
        "statuses": statuses,
    }


def in_process(app: Flask, prepared: list[tuple[bytes, dict[str, str]]]) -> dict[str, float]:
    """The app's own cost per request (Flask test client: no server, no network, no client
    threads), wall and CPU: less sensitive to a busy machine than the HTTP numbers."""
    client = app.test_client()
    for body, headers in signed_requests(50):  # warm-up: first requests compile statements
        client.post("/webhooks/zendesk", data=body, headers=headers)
    wall, cpu = time.perf_counter(), time.process_time()
    for body, headers in prepared:
        client.post("/webhooks/zendesk", data=body, headers=headers)
    count = len(prepared)
    return {
        "requests": count,
        "wall_ms_per_request": round((time.perf_counter() - wall) * 1000 / count, 3),
        "cpu_ms_per_request": round((time.process_time() - cpu) * 1000 / count, 3),
    }


def in_process_results(env: dict[str, str], count: int) -> dict[str, Any]:
    from app import create_app  # noqa: PLC0415 - the service's factory, only for this part
    from logs import configure_logging  # noqa: PLC0415

    service = create_app({"ENVIRON": env, "INSTANCE_PATH": tempfile.mkdtemp()})
    configure_logging("INFO", stream=open(os.devnull, "w"))  # noqa: SIM115 - process-long sink
    results = {
        "bare_flask_204": in_process(create_bare_app(), signed_requests(count)),
        "cxlayer_webhook": in_process(service, signed_requests(count)),
    }
    results["cpu_ratio_service_over_bare"] = round(
        results["cxlayer_webhook"]["cpu_ms_per_request"]
        / results["bare_flask_204"]["cpu_ms_per_request"],
        2,
    )
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="per target and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--database-url", default="", help="PostgreSQL URL (default: SQLite)")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "webhook.json"))
    args = parser.parse_args(argv)
    load_before = os.getloadavg()

    with tempfile.TemporaryDirectory(prefix="cxlayer-bench-") as tmp:
        database_url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
        env = {
            "PATH": os.environ.get("PATH", ""),
            "CXLAYER_DATABASE_URL": database_url,
            "CXLAYER_WEBHOOK_SECRETS": SECRET,
            "CXLAYER_LOGGING_LEVEL": "INFO",  # the service's default: one summary line per event
        }
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", "db", "upgrade"],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        targets = {
            "bare_flask_204": "webhook_bench:create_bare_app()",
            "cxlayer_webhook": "app:create_app()",
        }
        runs: dict[str, list[tuple[list[float], dict[int, int], float]]] = {t: [] for t in targets}
        # Alternate the two targets round by round, so background load on a shared machine
        # falls on both rather than on whichever happened to run second.
        for _ in range(args.rounds):
            for name, target in targets.items():
                port = free_port()
                process = start_gunicorn(target, env, port)
                try:
                    url = f"http://127.0.0.1:{port}/webhooks/zendesk"
                    load(url, signed_requests(args.warmup), min(args.threads, args.warmup))
                    runs[name].append(load(url, signed_requests(args.requests), args.threads))
                finally:
                    stop(process)
        results = {name: summarise(rounds) for name, rounds in runs.items()}
        for name, summary in results.items():
            print(name, json.dumps(summary), flush=True)
        process_results = in_process_results(env, args.requests)
        print("in_process", json.dumps(process_results), flush=True)

    service, bare = results["cxlayer_webhook"], results["bare_flask_204"]
    report = {
        # The database URL's password stays out of the committed results.
        "command": re.sub(
            r"(://[^:/@\s]+:)[^@\s]+@",
            r"\1***@",
            " ".join(shlex.quote(a) for a in [sys.executable, *sys.argv]),
        ),
        "nproc": len(os.sched_getaffinity(0)),  # what `nproc` prints
        "python": platform.python_version(),
        "database": "postgresql" if args.database_url else "sqlite",
        "gunicorn_workers": GUNICORN_WORKERS,
        "client_threads": args.threads,
        "rounds": args.rounds,
        "loadavg_before_after": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "results": results,
        "in_process": process_results,
        "ratio": {
            "throughput_service_over_bare": round(service["per_second"] / bare["per_second"], 3),
            "p50_service_over_bare": round(service["p50_ms"] / bare["p50_ms"], 2),
            "p99_service_over_bare": round(service["p99_ms"] / bare["p99_ms"], 2),
        },
        "note": "service answers 202 after verifying the signature, validating and inserting "
        "into the inbox; the bare endpoint does nothing. Same machine, same run, client on "
        "the same cores (a shared machine: see loadavg).",
    }
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report["ratio"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
