"""Background jobs (update_many, merge, create_many imports) run by one worker thread,
moving through queued → working → completed like Zendesk's job statuses."""

from __future__ import annotations

import queue
import threading
import uuid
from collections.abc import Callable
from typing import Any

from sandbox import errors
from sandbox.account import Account
from sandbox.errors import ApiError
from sandbox.store import iso

MAX_ACTIVE_JOBS = 30

JobWork = Callable[[Callable[[dict[str, Any]], None]], None]


class JobRunner:
    """Runs jobs one at a time in submission order. `paused` holds them in `queued` so tests
    can observe queued jobs and the 30-job ceiling deterministically."""

    def __init__(self, account: Account) -> None:
        self.account = account
        self.store = account.store
        self._queue: queue.Queue[tuple[str, JobWork] | None] = queue.Queue()
        self._running = threading.Event()
        self._running.set()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.delay_seconds = 0.0

    def start(self) -> None:
        # Jobs persisted in a database file by an earlier run will never run now.
        for job in self.store.all("job_status"):
            if job["status"] in ("queued", "working"):
                job.update(status="failed", message="Failed: the sandbox restarted")
                self.store.put("job_status", job)
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._loop, name="sandbox-jobs", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._stopping = True
            self._running.set()
            self._queue.put(None)
            self._thread.join(timeout=5)
            self._thread = None

    def pause(self, paused: bool) -> None:
        if paused:
            self._running.clear()
        else:
            self._running.set()

    def active_count(self) -> int:
        return sum(1 for j in self.store.all("job_status") if j["status"] in ("queued", "working"))

    def submit(self, job_type: str, total: int, work: JobWork) -> dict[str, Any]:
        """Queue `work(report)`; `report(result)` appends one per-item result."""
        with self.store.tx():
            if self.active_count() >= MAX_ACTIVE_JOBS:
                raise ApiError(
                    429,
                    "TooManyJobs",
                    errors.TOO_MANY_JOBS_DESCRIPTION,
                    headers={"Retry-After": "10"},
                )
            job: dict[str, Any] = {
                "id": uuid.uuid4().hex,
                "job_type": job_type,
                "status": "queued",
                "total": total,
                "progress": 0,
                "message": None,
                "results": None,
                "created_at": iso(self.store.now()),
            }
            self.store.put("job_status", job)
        self._queue.put((str(job["id"]), work))
        return job

    def _loop(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            self._running.wait()
            if self._stopping:
                return
            if self.delay_seconds:
                threading.Event().wait(self.delay_seconds)
            self._run(*item)

    def _run(self, job_id: str, work: JobWork) -> None:
        job = self.store.get("job_status", job_id)
        if job is None:
            return
        job["status"] = "working"
        job["results"] = []
        self.store.put("job_status", job)
        results: list[dict[str, Any]] = []

        def report(result: dict[str, Any]) -> None:
            results.append(result)
            job["results"] = results
            job["progress"] = len(results)
            self.store.put("job_status", job)

        try:
            work(report)
        except Exception as exc:  # a job failure is data for the client, never a dead worker
            job["status"] = "failed"
            job["message"] = f"Failed: {exc}"
            self.store.put("job_status", job)
            return
        job["status"] = "completed"
        job["progress"] = job["total"]
        job["message"] = f"Completed at {iso(self.store.now())}"
        self.store.put("job_status", job)


def present_job(job: dict[str, Any], base_url: str) -> dict[str, Any]:
    out = {k: v for k, v in job.items() if k != "created_at"}
    out["url"] = f"{base_url}/api/v2/job_statuses/{job['id']}.json"
    return out


def failure(ticket_id: Any, exc: ApiError, action: str = "update") -> dict[str, Any]:
    """One failed item in a job's results, with Zendesk's error name and the reason."""
    details = exc.description or exc.error
    if exc.details:
        details = "; ".join(d["description"] for v in exc.details.values() for d in v)
    return {
        "id": ticket_id,
        "action": action,
        "success": False,
        "error": exc.error,
        "details": details,
    }
