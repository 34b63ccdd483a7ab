"""Benchmark: the agent sidebar's first paint, server time, on the embedded demo (`make run`).

Starts `python -m demo` (sandbox subprocess with the demo seed, migrations, provisioning, the
sidebar installed, `flask serve`), indexes the seeded tickets for duplicate detection
(`flask duplicates scan`), then for each of N tickets does what Zendesk and the page do:

1. the sandbox's agent page signs the app JWT (read from its HTML, as the browser would post it);
2. `POST /sidebar/` with that token (verification, the agent's role, the page) — first paint;
3. `GET /sidebar/api/tickets/<id>` with the session — the panel's content.

Server time is the `Server-Timing: app;dur=` the service reports for each; wall time is the
client's. Baselines in the same run: `GET /healthz` of the same service (framework and loopback
overhead), and the Zendesk reads the panel cannot avoid, made directly against the sandbox with
`requests` (ticket, comments, their authors, groups). Writes bench/results/sidebar.json.

    .venv/bin/python bench/sidebar_bench.py [--tickets 60] [--seed-size 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from demo.launcher import SANDBOX_EMAIL, SANDBOX_TOKEN  # noqa: E402 - after the path set-up
from sandbox.testing import free_port  # noqa: E402

TOKEN = re.compile(r'name="token" value="([^"]+)"')
ACTION = re.compile(r'action="([^"]+)"')
BOOT = re.compile(r'<script id="boot" type="application/json">(.*?)</script>', re.S)


def server_ms(response: requests.Response) -> float:
    match = re.search(r"app;dur=([\d.]+)", response.headers.get("Server-Timing", ""))
    if match is None:
        raise SystemExit(f"no Server-Timing on {response.url}: {response.status_code}")
    return float(match.group(1))


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 1),
        "max_ms": round(ordered[-1], 1),
    }


def wait_for(url: str, timeout: float, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the demo exited")
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"{url} did not answer in {timeout:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=60)
    parser.add_argument("--seed-size", type=int, default=2000)
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "sidebar.json")
    options = parser.parse_args()

    instance = Path(tempfile.mkdtemp(prefix="sidebar-bench-"))
    sandbox_port, port = free_port(), free_port()
    sandbox_url, service_url = f"http://127.0.0.1:{sandbox_port}", f"http://127.0.0.1:{port}"
    log_path = Path(tempfile.mkdtemp(prefix="sidebar-bench-log-")) / "demo.log"
    log = log_path.open("w")
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "demo",
            "--sandbox-port",
            str(sandbox_port),
            "--port",
            str(port),
            "--seed-size",
            str(options.seed_size),
            "--instance",
            str(instance),
            "--no-tour",
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_for(service_url + "/healthz", 300, demo)
        # The server time without rate-limit waits: the demo account's 700 requests/minute
        # would throttle a benchmark making ~10 calls per ticket (see "api_calls_per_open").
        requests.post(f"{sandbox_url}/sandbox/limits", json={"rpm": 100000}, timeout=10)
        # The service's duplicates sync indexes the seeded tickets in the background; wait for
        # it, so candidate scoring runs against a full index.
        database = instance / "cxlayer.sqlite3"
        indexed = 0
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            with sqlite3.connect(database, timeout=30) as db:
                try:
                    indexed = int(db.execute("SELECT COUNT(*) FROM dup_ticket").fetchone()[0])
                except sqlite3.OperationalError:
                    indexed = 0
            if indexed >= options.seed_size * 0.9:
                break
            time.sleep(2)
        print(f"duplicate index: {indexed} tickets", flush=True)
        stats_before = requests.get(f"{sandbox_url}/sandbox/stats", timeout=10).json()["total"]
        admin = requests.Session()
        admin.auth = (f"{SANDBOX_EMAIL}/token", SANDBOX_TOKEN)
        api = sandbox_url + "/api/v2"
        ids = [t["id"] for t in admin.get(f"{api}/tickets.json", timeout=30).json()["tickets"]]
        ids = ids[: options.tickets]
        browser = requests.Session()  # the agent's browser: no API credentials
        first, panel, total, health, direct = [], [], [], [], []
        first_wall, panel_wall = [], []
        for ticket_id in ids:
            page = browser.get(f"{sandbox_url}/agent/tickets/{ticket_id}", timeout=30).text
            token = TOKEN.search(page)
            url = ACTION.search(page)
            if token is None or url is None:
                raise SystemExit("the agent page did not load the sidebar")
            action = url.group(1).replace("&amp;", "&")
            started = time.perf_counter()
            loaded = browser.post(action, data={"token": token.group(1)}, timeout=30)
            first_wall.append((time.perf_counter() - started) * 1000)
            if loaded.status_code != 200:
                raise SystemExit(f"sidebar load answered {loaded.status_code}")
            boot_match = BOOT.search(loaded.text)
            assert boot_match is not None
            session = json.loads(boot_match.group(1))["session"]
            started = time.perf_counter()
            answered = browser.get(
                f"{service_url}/sidebar/api/tickets/{ticket_id}",
                headers={"Authorization": f"Bearer {session}"},
                timeout=30,
            )
            panel_wall.append((time.perf_counter() - started) * 1000)
            if answered.status_code != 200:
                raise SystemExit(f"panel answered {answered.status_code}; see {log_path}")
            first.append(server_ms(loaded))
            panel.append(server_ms(answered))
            total.append(first[-1] + panel[-1])
            started = time.perf_counter()
            browser.get(service_url + "/healthz", timeout=30)
            health.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            comments = admin.get(f"{api}/tickets/{ticket_id}/comments.json", timeout=30).json()
            admin.get(f"{api}/tickets/{ticket_id}.json", timeout=30)
            authors = ",".join(str(c["author_id"]) for c in comments["comments"])
            admin.get(f"{api}/users/show_many.json", params={"ids": authors}, timeout=30)
            admin.get(f"{api}/groups.json", timeout=30)
            direct.append((time.perf_counter() - started) * 1000)
        stats_after = requests.get(f"{sandbox_url}/sandbox/stats", timeout=10).json()["total"]
    finally:
        demo.send_signal(signal.SIGINT)
        try:
            demo.wait(timeout=30)
        except subprocess.TimeoutExpired:
            demo.kill()

    result: dict[str, Any] = {
        "command": "python " + shlex.join(["bench/sidebar_bench.py", *sys.argv[1:]]),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "seeded_tickets": options.seed_size,
        "duplicate_index_tickets": indexed,
        "target": "first paint under 300 ms server time (load + panel)",
        "server_time": {
            "first_load_post_sidebar": summary(first),
            "panel_get": summary(panel),
            "first_paint_total": summary(total),
        },
        "client_wall_time": {
            "first_load_post_sidebar": summary(first_wall),
            "panel_get": summary(panel_wall),
        },
        "baselines_wall_time": {
            "healthz_same_service": summary(health),
            "zendesk_reads_direct": summary(direct),
        },
    }
    # Every API request of the loop, minus the direct baseline reads (4 per ticket).
    result["api_calls_per_open"] = round((stats_after - stats_before) / len(ids) - 4, 1)
    result["ratios"] = {
        "panel_server_p50_over_direct_zendesk_reads_p50": round(
            result["server_time"]["panel_get"]["p50_ms"]
            / result["baselines_wall_time"]["zendesk_reads_direct"]["p50_ms"],
            2,
        ),
    }
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
