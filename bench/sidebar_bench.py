"""Benchmark: the agent sidebar's first paint, server time, on a sandbox account.

Set-up (like tests/sidebar): a sandbox seeded with the demo account (`--seed-size` tickets),
an app on a fresh SQLite database, provisioning and the sidebar installed through the Apps
API, the seeded tickets indexed for duplicate detection (`duplicates.detection.scan`), and the
service's web app served on a loopback port. Then, for each of N tickets, what Zendesk and the
page do:

1. the sandbox's agent page signs the app JWT (read from its HTML, as the browser posts it);
2. `POST /sidebar/` with that token (verification, the agent's role, the page) — first paint;
3. `GET /sidebar/api/tickets/<id>` with the session — the panel's content.

Server time is the `Server-Timing: app;dur=` the service reports; wall time is the client's.
Side by side in the same run, each ticket opened once per code path, alternating:

- `current`: the ticket and its comments read in parallel, the comments' authors side-loaded
  (`include=users`), the agent's role remembered for the session's length, the duplicate
  index refreshed from the table at most every 5 s;
- `previous` (baseline): the code path before that change, rebuilt with the same code: the
  ticket, its comments, then their authors read one after another, the agent's role read
  from Zendesk on every load, the index refreshed on every panel.

Also: `GET /healthz` of the same service (framework and loopback overhead), and the Zendesk
reads the panel cannot avoid, made directly with `requests`. Writes bench/results/sidebar.json.

    .venv/bin/python bench/sidebar_bench.py [--tickets 60] [--seed-size 2000]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import re
import shlex
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402 - after the path set-up, for direct runs
from duplicates.detection import scan  # noqa: E402
from mappings import load_mappings  # noqa: E402
from sandbox.testing import run_sandbox  # noqa: E402
from sidebar.cli import install  # noqa: E402
from sidebar.data import AGENTS_EXTENSION, INDEX_REFRESH_EXTENSION, load_panel  # noqa: E402
from store.migrate import upgrade  # noqa: E402
from sync import FACTORY_EXTENSION, DbStateStore, ZendeskClient  # noqa: E402
from sync.provisioning import apply  # noqa: E402

TOKEN = re.compile(r'name="token" value="([^"]+)"')
ACTION = re.compile(r'action="([^"]+)"')
BOOT = re.compile(r'<script id="boot" type="application/json">(.*?)</script>', re.S)


def server_ms(response: requests.Response) -> float:
    match = re.search(r"app;dur=([\d.]+)", response.headers.get("Server-Timing", ""))
    if match is None:
        raise SystemExit(f"no Server-Timing on {response.url}: {response.status_code}")
    return float(match.group(1))


class PreviousPath(ZendeskClient):
    """The reads as they were before the parallel/side-load change (the bench's baseline)."""

    def comments_with_authors(
        self, ticket_id: int
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        items = self.comments(ticket_id)
        return items, self.users(c["author_id"] for c in items)

    def in_parallel(self, *reads: Any) -> list[Any]:
        return [read() for read in reads]


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))], 1),
        "max_ms": round(ordered[-1], 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tickets", type=int, default=60)
    parser.add_argument("--seed-size", type=int, default=2000)
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "sidebar.json")
    parser.add_argument(
        "--profile", type=int, default=0, help="also cProfile the panel for N tickets (top 15)"
    )
    options = parser.parse_args()
    instance = Path(tempfile.mkdtemp(prefix="sidebar-bench-"))
    mappings = load_mappings()

    with run_sandbox(seed=options.seed_size) as zd:
        settings = {
            "zendesk": {"subdomain": zd.subdomain, "url": zd.base_url, "email": zd.email, "token": zd.token},
        }  # fmt: skip
        app = create_app(
            {
                "ENVIRON": {"CXLAYER_DATABASE_URL": f"sqlite:///{instance / 'cxlayer.sqlite3'}"},
                "INSTANCE_PATH": str(instance),
                "SETTINGS": settings,
            }
        )
        upgrade(app)

        mode = {"path": "current"}

        def make_client() -> ZendeskClient:
            kind = PreviousPath if mode["path"] == "previous" else ZendeskClient
            return kind.from_settings(
                app.config["CXLAYER"], DbStateStore(app), mappings=mappings,
                poll_initial_seconds=0.01, poll_max_seconds=0.05,
            )  # fmt: skip

        app.extensions[FACTORY_EXTENSION] = lambda _app: make_client()
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        service_url = f"http://127.0.0.1:{server.server_port}"
        app.config["CXLAYER"]["service"]["public_url"] = service_url
        apply(make_client(), mappings, service_url)
        install(app)
        indexed = scan(app, datetime(2000, 1, 1, tzinfo=UTC)).examined
        print(f"duplicate index: {indexed} tickets scanned", flush=True)

        sandbox_url = zd.base_url
        admin = requests.Session()
        admin.auth = zd.auth
        api = sandbox_url + "/api/v2"
        ids = [t["id"] for t in admin.get(f"{api}/tickets.json", timeout=30).json()["tickets"]]
        ids = ids[: options.tickets]
        zd.reset_stats()
        browser = requests.Session()  # the agent's browser: no API credentials
        paths = ("current", "previous")
        first: dict[str, list[float]] = {p: [] for p in paths}
        panel: dict[str, list[float]] = {p: [] for p in paths}
        total: dict[str, list[float]] = {p: [] for p in paths}
        first_wall: dict[str, list[float]] = {p: [] for p in paths}
        panel_wall: dict[str, list[float]] = {p: [] for p in paths}
        api_calls = dict.fromkeys(paths, 0)
        health, direct = [], []
        for n, ticket_id in enumerate(ids):
            # Alternate which path goes first, so neither always meets a warmer cache.
            for path in paths if n % 2 == 0 else paths[::-1]:
                mode["path"] = path
                if path == "previous":
                    # The role read on every load; the duplicate index refreshed on every panel.
                    app.extensions.pop(AGENTS_EXTENSION, None)
                    app.extensions.pop(INDEX_REFRESH_EXTENSION, None)
                page = browser.get(f"{sandbox_url}/agent/tickets/{ticket_id}", timeout=30).text
                token = TOKEN.search(page)
                url = ACTION.search(page)
                if token is None or url is None:
                    raise SystemExit("the agent page did not load the sidebar")
                action = url.group(1).replace("&amp;", "&")
                before = zd.stats()["total"]
                started = time.perf_counter()
                loaded = browser.post(action, data={"token": token.group(1)}, timeout=30)
                first_wall[path].append((time.perf_counter() - started) * 1000)
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
                panel_wall[path].append((time.perf_counter() - started) * 1000)
                if answered.status_code != 200:
                    raise SystemExit(
                        f"panel answered {answered.status_code}: {answered.text[:500]}"
                    )
                api_calls[path] += zd.stats()["total"] - before
                first[path].append(server_ms(loaded))
                panel[path].append(server_ms(answered))
                total[path].append(first[path][-1] + panel[path][-1])
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
        profile_top: list[str] = []
        if options.profile:
            mode["path"] = "current"
            profiler = cProfile.Profile()
            profiler.enable()
            for ticket_id in ids[: options.profile]:
                load_panel(app, ticket_id)
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(25)
            profile_top = [line for line in out.getvalue().splitlines() if line.strip()][:40]
            print("\n".join(profile_top))
        server.shutdown()

    result: dict[str, Any] = {
        "command": "python " + shlex.join(["bench/sidebar_bench.py", *sys.argv[1:]]),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "seeded_tickets": options.seed_size,
        "duplicate_index_tickets": indexed,
        "tickets_opened_per_path": len(ids),
        "setup": "sandbox and service web app in one process (threaded werkzeug), SQLite",
        "target": "first paint under 300 ms server time (load + panel) at p95",
        "server_time": {
            path: {
                "first_load_post_sidebar": summary(first[path]),
                "panel_get": summary(panel[path]),
                "first_paint_total": summary(total[path]),
            }
            for path in paths
        },
        "client_wall_time": {
            path: {
                "first_load_post_sidebar": summary(first_wall[path]),
                "panel_get": summary(panel_wall[path]),
            }
            for path in paths
        },
        "baselines_wall_time": {
            "healthz_same_service": summary(health),
            "zendesk_reads_direct": summary(direct),
        },
        # Zendesk API requests per sidebar open (first load + panel), from the sandbox's counters.
        "api_calls_per_open": {path: round(api_calls[path] / len(ids), 2) for path in paths},
    }
    if profile_top:
        result["profile_panel_cumulative"] = profile_top
    now, before = result["server_time"]["current"], result["server_time"]["previous"]
    result["ratios_current_over_previous"] = {
        f"{part}_{stat}": round(now[part][stat] / before[part][stat], 2)
        for part in ("first_load_post_sidebar", "panel_get", "first_paint_total")
        for stat in ("p50_ms", "p95_ms")
    }
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
