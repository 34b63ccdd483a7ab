"""`python -m sandbox --port PORT [--host H] [--db PATH] [--seed demo|none] [--rpm N]`."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from sandbox.account import ADMIN_EMAIL, API_TOKEN, OAUTH_TOKEN, SUBDOMAIN
from sandbox.core import Sandbox
from sandbox.limits import DEFAULT_RPM
from sandbox.seed import DEMO_SIZE, seed_account
from sandbox.server import SandboxServer


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description=__doc__)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--db", default=None, help="SQLite file (default: in memory)")
    parser.add_argument("--seed", choices=("demo", "none"), default="none")
    parser.add_argument("--seed-size", type=int, default=DEMO_SIZE)
    parser.add_argument("--random-seed", type=int, default=1)
    parser.add_argument("--rpm", type=int, default=DEFAULT_RPM, help="API requests per minute")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sandbox = Sandbox(args.db, rpm=args.rpm)
    if args.seed == "demo" and sandbox.store.get_ticket(1) is None:
        seed_account(sandbox.account, args.seed_size, args.random_seed)
    server = SandboxServer(sandbox, args.host, args.port)

    def shutdown(signum: int, frame: FrameType | None) -> None:
        # shutdown() blocks until serve_forever returns, so it must run off the serving thread.
        threading.Thread(target=server.server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, shutdown)
    signal.signal(signal.SIGINT, shutdown)
    print(f"Zendesk sandbox at {server.base_url}", flush=True)
    print(f"  subdomain: {SUBDOMAIN}", flush=True)
    print(f"  email:     {ADMIN_EMAIL}", flush=True)
    print(f"  token:     {API_TOKEN}   (Basic auth '{ADMIN_EMAIL}/token:{API_TOKEN}')", flush=True)
    print(f"  bearer:    {OAUTH_TOKEN}", flush=True)
    server.serve_forever()
    server.server.server_close()
    print("Zendesk sandbox stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
