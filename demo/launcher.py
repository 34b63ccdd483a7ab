"""`make run`: the service on the embedded Zendesk sandbox, from nothing to events flowing.

Starts the sandbox with its demo seed, migrates a fresh demo database, provisions the sandbox
account from mappings/, then serves the web app, workers and scheduler in one process. The
sandbox's well-known demo credentials are supplied here; a real deployment sets its own.
"""

from __future__ import annotations

import argparse
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

import requests
from werkzeug.security import generate_password_hash

from settings import ROOT

SANDBOX_EMAIL = "admin@example.com"
SANDBOX_TOKEN = "sandbox-token"  # noqa: S105 - the sandbox's published demo credential
SANDBOX_BEARER = "sandbox-oauth-token"  # with X-On-Behalf-Of it acts as that user
# The console's demo sign-ins: the sandbox's OAuth client (sandbox/oauth.py) and a break-glass
# local admin. Published demo values; a real deployment sets its own in the environment.
SANDBOX_OAUTH_CLIENT_ID = "cxlayer_console"
SANDBOX_OAUTH_CLIENT_SECRET = "sandbox-oauth-client-secret"  # noqa: S105 - published demo value
DEMO_ADMIN_PASSWORD = "demo-admin"  # noqa: S105 - published demo value


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


def _die_with_parent() -> None:
    """In a child before exec (Linux): SIGTERM it when the launcher dies, even by SIGKILL."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the launcher's own handlers still apply
        pass


def _run(args: list[str], env: dict[str, str]) -> None:
    print("$", " ".join(args[2:] if args[:2] == [sys.executable, "-m"] else args), flush=True)
    subprocess.run(args, env=env, check=True, cwd=ROOT, preexec_fn=_die_with_parent)


class Stopped(Exception):
    """The launcher got SIGINT, SIGTERM or SIGHUP: stop the children and exit."""


def _stop_on_signals() -> None:
    """Own handlers, whatever was inherited: a shell that starts `make run &` hands its
    children SIGINT as *ignored*, and Python then installs no KeyboardInterrupt handler."""

    def _raise(signum: int, _frame: FrameType | None) -> None:
        raise Stopped(signal.Signals(signum).name)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise)


def port_holder(port: int) -> str | None:
    """Who listens on 127.0.0.1:`port`: "pid N (command line)", "another process", or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        if probe.connect_ex(("127.0.0.1", port)) != 0:
            return None
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:  # LISTEN
                inodes.add(f"socket:[{parts[9]}]")
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if any(os.readlink(fd) in inodes for fd in (proc / "fd").iterdir()):
                command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
                return f"pid {proc.name} ({command})"
        except OSError:
            continue
    return "another process"


def _refuse_busy_ports(ports: dict[str, int]) -> str | None:
    """Why the demo cannot start (a previous run still holds a port), or None."""
    for name, port in ports.items():
        holder = port_holder(port)
        if holder is not None:
            return (
                f"make run: the {name} port {port} is held by {holder}; a previous run is still "
                "going? Stop it (Ctrl-C or kill PID) and start again. Nothing was changed."
            )
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sandbox-port", type=int, default=8765)
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--seed-size", type=int, default=300, help="tickets in the demo account")
    parser.add_argument("--instance", type=Path, default=ROOT / "instance" / "demo")
    parser.add_argument("--no-tour", action="store_true", help="skip the scripted agent change")
    options = parser.parse_args(argv)
    _stop_on_signals()
    # `make run` killed with a plain `kill` (of make, the process an operator sees): make does
    # not pass the signal on, so the launcher asks the kernel for a SIGTERM when make dies.
    _die_with_parent()
    refusal = _refuse_busy_ports({"sandbox": options.sandbox_port, "service": options.port})
    if refusal:
        print(refusal, file=sys.stderr, flush=True)
        return 1

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
        "CXLAYER_CONSOLE_OAUTH_CLIENT_ID": SANDBOX_OAUTH_CLIENT_ID,
        "CXLAYER_CONSOLE_OAUTH_CLIENT_SECRET": SANDBOX_OAUTH_CLIENT_SECRET,
        "CXLAYER_ADMIN_PASSWORD_HASH": generate_password_hash(DEMO_ADMIN_PASSWORD),
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
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - the launcher has no threads
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
        # The seeded account already has tickets, on Zendesk's generic statuses: bring them in
        # line (bulk, no notes), then let the sweep act on the pending ones once, as nightly.
        _run([*flask, "zendesk", "adopt"], env)
        _run([*flask, "sweep", "auto-solve", "--all"], env)
        service = subprocess.Popen(
            [*flask, "serve", "--port", str(options.port)],
            env=env,
            cwd=ROOT,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - the launcher has no threads
        )
        _wait_until_up(f"{service_url}/healthz", None, service, 60)
        print(
            "\ncxlayer is running on the embedded Zendesk sandbox\n"
            f"  service:  {service_url}  (health: {service_url}/healthz)\n"
            f"  sandbox:  {sandbox_url}/api/v2  (user {SANDBOX_EMAIL}, API token {SANDBOX_TOKEN})\n"
            f"  requests: {sandbox_url}/sandbox/stats\n"
            f"  sidebar:  {sidebar_link(sandbox_url)}  (a demo ticket with the agent sidebar)\n"
            "The seeded tickets were adopted (`zendesk adopt`) and the auto-solve sweep ran once\n"
            "(its report is in instance/sweep/). Change a ticket in the sandbox (e.g. put one on\n"
            "hold) and watch the log: the webhook arrives and a rule acts; the audit table says\n"
            "why, and agents get a note when a person's choice was changed. Ctrl-C stops all.\n",
            flush=True,
        )
        if not options.no_tour:
            tour(sandbox_url)
        print(
            f"admin console: {service_url}/console\n"
            f"  Sign in with Zendesk as {SANDBOX_EMAIL} (the sandbox asks only for the email),\n"
            f"  or as the local admin: user admin, password {DEMO_ADMIN_PASSWORD}\n",
            flush=True,
        )
        return service.wait()
    except (KeyboardInterrupt, Stopped) as stopped:
        print(f"make run: stopping ({stopped or 'SIGINT'})", flush=True)
        return 0
    finally:
        # No second signal may interrupt the clean-up; SIGTERM works whatever the children
        # inherited (both set their own handlers for it).
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        for process in (service, sandbox):
            if process is not None and process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
