"""One sandboxed Zendesk account: state, jobs, webhook delivery, limits and counters together."""

from __future__ import annotations

from sandbox.account import Account
from sandbox.delivery import Deliverer
from sandbox.jobs import JobRunner
from sandbox.limits import DEFAULT_RPM, Faults, RateLimiter, Stats
from sandbox.rules import TriggerEngine
from sandbox.store import Store


class Sandbox:
    """Everything the HTTP layer serves. Start its threads with `start()`, stop with `stop()`."""

    def __init__(self, db: str | None = None, rpm: int = DEFAULT_RPM) -> None:
        self.store = Store(db)
        self.account = Account(self.store)
        self.jobs = JobRunner(self.account)
        self.limiter = RateLimiter(rpm)
        self.faults = Faults()
        self.stats = Stats()
        self.deliverer = Deliverer(self.store)
        self.triggers = TriggerEngine(self.account, self.deliverer)
        self.account.listeners.append(self.triggers.on_change)
        self.account.before_store.append(self.triggers.before_store)
        self._closed_checked_at = float("-inf")

    def run_automations(self, force: bool = False) -> None:
        """Zendesk's time-based default automation (close solved tickets after 4 days), at most
        once per sandbox-clock minute unless forced (the clock was moved)."""
        now = self.store.now()
        if not force and now - self._closed_checked_at < 60:
            return
        self._closed_checked_at = now
        self.account.close_solved()

    def start(self) -> None:
        self.jobs.start()
        self.deliverer.start()

    def stop(self) -> None:
        self.jobs.stop()
        self.deliverer.stop()
