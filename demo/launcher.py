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
        notes = [
            c["body"] for c in comments if not c["public"] and "Custom status set" in c["body"]
        ]
        if notes:
            print(f"tour: cxlayer's internal note on #{ticket['id']}:\n  {notes[-1]}\n", flush=True)
            return
        time.sleep(0.5)
    print("tour: no note yet; see the log above", flush=True)


def sidebar_link(sandbox_url: str) -> str:
    """A demo ticket on the sandbox's agent page, with the sidebar: a human agent asks the
    requester a question (status "Awaiting requester reply"), so the auto-solve clock runs."""
    api = f"{sandbox_url}/api/v2"
    admin = (f"{SANDBOX_EMAIL}/token", SANDBOX_TOKEN)
    users = requests.get(f"{api}/users.json", auth=admin, timeout=10).json()["users"]
    agent = next(u["email"] for u in users if u["role"] == "agent")
    statuses = requests.get(f"{api}/custom_statuses.json", auth=admin, timeout=10).json()
    awaiting = next(
        s["id"]
        for s in statuses["custom_statuses"]
        if s["agent_label"] == "Awaiting requester reply"
    )
    ticket_id = requests.get(f"{api}/tickets.json", auth=admin, timeout=10).json()["tickets"][0][
        "id"
    ]
    requests.put(
        f"{api}/tickets/{ticket_id}.json",
        json={
            "ticket": {
                "custom_status_id": awaiting,
                "comment": {"body": "Which campaign is affected?", "public": True},
            }
        },
        headers={"Authorization": f"Bearer {SANDBOX_BEARER}", "X-On-Behalf-Of": agent},
        timeout=10,
    ).raise_for_status()
    return f"{sandbox_url}/agent/tickets/{ticket_id}"


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
        _run([*flask, "zendesk", "apply", "--with-sidebar"], env)
        service = subprocess.Popen(
            [*flask, "serve", "--port", str(options.port)], env=env, cwd=ROOT
        )
        _wait_until_up(f"{service_url}/healthz", None, service, 60)
        print(
            "\ncxlayer is running on the embedded Zendesk sandbox\n"
            f"  service:  {service_url}  (health: {service_url}/healthz)\n"
            f"  sandbox:  {sandbox_url}/api/v2  (user {SANDBOX_EMAIL}, API token {SANDBOX_TOKEN})\n"
            f"  requests: {sandbox_url}/sandbox/stats\n"
            f"  sidebar:  {sidebar_link(sandbox_url)}  (a demo ticket with the agent sidebar)\n"
            "Change a ticket in the sandbox (e.g. put one on hold) and watch the log: the webhook\n"
            "arrives, a rule acts, and an internal note explains it. Ctrl-C stops everything.\n",
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
