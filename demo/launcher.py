"""`make run`: the service on the embedded Zendesk sandbox, from nothing to events flowing.

Starts the sandbox with its demo seed, migrates a fresh demo database, provisions the sandbox
account from mappings/, then serves the web app, workers and scheduler in one process. The
sandbox's well-known demo credentials are supplied here; a real deployment sets its own.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from settings import ROOT

SANDBOX_EMAIL = "admin@example.com"
SANDBOX_TOKEN = "sandbox-token"  # noqa: S105 - the sandbox's published demo credential
SANDBOX_BEARER = "sandbox-oauth-token"  # with X-On-Behalf-Of it acts as that user


def tour(sandbox_url: str, timeout: float = 60.0) -> None:
    """Act as a human agent once and show what the service did: a newcomer sees it work."""
    api = f"{sandbox_url}/api/v2"
    admin = requests.Session()
    admin.auth = (f"{SANDBOX_EMAIL}/token", SANDBOX_TOKEN)
    agent_email = next(
        u["email"]
        for u in admin.get(f"{api}/users.json", timeout=10).json()["users"]
        if u["role"] == "agent"
    )
    agent = requests.Session()
    agent.headers.update(
        {"Authorization": f"Bearer {SANDBOX_BEARER}", "X-On-Behalf-Of": agent_email}
    )
    statuses = admin.get(f"{api}/custom_statuses.json", timeout=10).json()["custom_statuses"]
    on_hold = next(s["id"] for s in statuses if s["agent_label"] == "On-hold")
    ticket = agent.post(
        f"{api}/tickets.json",
        json={
            "ticket": {
                "subject": "Demo: campaign export stuck",
                "comment": {"body": "The export never finishes."},
            }
        },
        timeout=10,
    ).json()["ticket"]
    print(
        f"tour: {agent_email} puts ticket #{ticket['id']} on hold with Zendesk's generic status …",
        flush=True,
    )
    agent.put(
        f"{api}/tickets/{ticket['id']}.json",
        json={"ticket": {"custom_status_id": on_hold}},
        timeout=10,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        comments = admin.get(f"{api}/tickets/{ticket['id']}/comments.json", timeout=10).json()[
            "comments"
        ]
        current = admin.get(f"{api}/tickets/{ticket['id']}.json", timeout=10).json()["ticket"]
        if current["custom_status_id"] != on_hold:
            label = next(
                (s["agent_label"] for s in statuses if s["id"] == current["custom_status_id"]),
                current["custom_status_id"],
            )
            notes = [c["body"] for c in comments if not c["public"]]
            print(
                f"tour: cxlayer set ticket #{ticket['id']} to the guide's on-hold status "
                f"“{label}” (tags: {', '.join(current['tags'])}); internal notes: {len(notes)} "
                "(the agent's choice of On-hold was kept, so nothing needed explaining; "
                f"`flask --app app audit list --ticket {ticket['id']}` shows the change)\n",
                flush=True,
            )
            return
        time.sleep(0.5)
    print("tour: not processed yet; see the log above", flush=True)


def _wait_until_up(
    url: str, auth: tuple[str, str] | None, process: subprocess.Popen[bytes], timeout: float
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{url}: the process exited with code {process.returncode}")
        try:
            if requests.get(url, auth=auth, timeout=2).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout:.0f} s")


def _run(args: list[str], env: dict[str, str]) -> None:
    print("$", " ".join(args[2:] if args[:2] == [sys.executable, "-m"] else args), flush=True)
    subprocess.run(args, env=env, check=True, cwd=ROOT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sandbox-port", type=int, default=8765)
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--seed-size", type=int, default=300, help="tickets in the demo account")
    parser.add_argument("--instance", type=Path, default=ROOT / "instance" / "demo")
    parser.add_argument("--no-tour", action="store_true", help="skip the scripted agent change")
    options = parser.parse_args(argv)

    # A fresh account and database every run: the sandbox's ids would not match an old database.
    shutil.rmtree(options.instance, ignore_errors=True)
    options.instance.mkdir(parents=True)
    sandbox_url = f"http://127.0.0.1:{options.sandbox_port}"
    service_url = f"http://127.0.0.1:{options.port}"
    env = {
        **os.environ,
        "CXLAYER_ZENDESK_SUBDOMAIN": "sandbox",
        "CXLAYER_ZENDESK_URL": sandbox_url,
        "CXLAYER_ZENDESK_EMAIL": SANDBOX_EMAIL,
        "CXLAYER_ZENDESK_TOKEN": SANDBOX_TOKEN,
        "CXLAYER_SERVICE_PUBLIC_URL": service_url,
        "CXLAYER_DATABASE_URL": f"sqlite:///{options.instance / 'cxlayer.sqlite3'}",
    }
    flask = [sys.executable, "-m", "flask", "--app", "app"]
    sandbox = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sandbox",
            "--port",
            str(options.sandbox_port),
            "--seed",
            "demo",
            "--seed-size",
            str(options.seed_size),
            "--db",
            str(options.instance / "sandbox.sqlite3"),
        ],
        cwd=ROOT,
    )
    service: subprocess.Popen[bytes] | None = None
    try:
        _wait_until_up(
            f"{sandbox_url}/api/v2/users/me.json",
            (f"{SANDBOX_EMAIL}/token", SANDBOX_TOKEN),
            sandbox,
            120,
        )
        _run([*flask, "db", "upgrade"], env)
        _run([*flask, "zendesk", "apply"], env)
        # The seeded account already has tickets, on Zendesk's generic statuses: bring them in
        # line (bulk, no notes), then let the sweep act on the pending ones once, as nightly.
        _run([*flask, "zendesk", "adopt"], env)
        _run([*flask, "sweep", "auto-solve", "--all"], env)
        service = subprocess.Popen(
            [*flask, "serve", "--port", str(options.port)], env=env, cwd=ROOT
        )
        _wait_until_up(f"{service_url}/healthz", None, service, 60)
        print(
            "\ncxlayer is running on the embedded Zendesk sandbox\n"
            f"  service:  {service_url}  (health: {service_url}/healthz)\n"
            f"  sandbox:  {sandbox_url}/api/v2  (user {SANDBOX_EMAIL}, API token {SANDBOX_TOKEN})\n"
            f"  requests: {sandbox_url}/sandbox/stats\n"
            "The seeded tickets were adopted (`zendesk adopt`) and the auto-solve sweep ran once\n"
            "(its report is in instance/sweep/). Change a ticket in the sandbox (e.g. put one on\n"
            "hold) and watch the log: the webhook arrives and a rule acts; the audit table says\n"
            "why, and agents get a note when a person's choice was changed. Ctrl-C stops all.\n",
            flush=True,
        )
        if not options.no_tour:
            tour(sandbox_url)
        return service.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for process in (service, sandbox):
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
