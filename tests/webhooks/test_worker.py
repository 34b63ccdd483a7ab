"""Inbox workers: leases, per-ticket order, retries with backoff, dead letters, CLI, scheduler."""

from __future__ import annotations

import io
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

import store
from logs import configure_logging
from settings import ROOT
from webhooks import cli as inbox_cli
from webhooks import inbox, worker

from .conftest import PostSigned, attempted, event_body

POLICY = inbox.RetryPolicy(max_attempts=3, base_seconds=10, max_seconds=3600)


def add(
    app: Flask, invocation_id: str, ticket_id: int | None = 1, kind: str = "status_changed"
) -> int:
    with store.session(app) as sess:
        inbox_id = inbox.add_event(
            sess,
            invocation_id=invocation_id,
            webhook_id=None,
            data={"event": kind, "ticket_id": ticket_id},
            payload={"event": kind, "ticket_id": ticket_id},
        )
    assert inbox_id is not None
    return inbox_id


def row(app: Flask, inbox_id: int) -> store.InboxEvent:
    with store.session(app) as sess:
        event = sess.get(store.InboxEvent, inbox_id)
        assert event is not None
        return event


def counts(app: Flask) -> dict[str, int]:
    with store.session(app) as sess:
        rows = sess.execute(
            select(store.InboxEvent.status, func.count()).group_by(store.InboxEvent.status)
        ).all()
    return {str(status): int(n) for status, n in rows}


class Recorder:
    """An idempotent handler: applies each invocation's effect once, remembers the order."""

    def __init__(self, fail_times: int = 0) -> None:
        self.lock = threading.Lock()
        self.effects: dict[str, int] = defaultdict(int)
        self.calls: list[str] = []
        self.order: dict[int, list[int]] = defaultdict(list)
        self.active: set[int] = set()
        self.overlaps: list[int] = []
        self.fail_times = fail_times

    def __call__(self, app: Flask, event: store.InboxEvent) -> None:
        ticket = event.ticket_id or 0
        with self.lock:
            self.calls.append(event.invocation_id)
            if ticket in self.active:
                self.overlaps.append(ticket)
            self.active.add(ticket)
        try:
            time.sleep(0)  # let other workers run while this ticket is "in hand"
            with self.lock:
                if self.fail_times > 0:
                    self.fail_times -= 1
                    raise RuntimeError("Zendesk said 503")
                self.effects[event.invocation_id] += 1
                self.order[ticket].append(int(event.payload.get("extras", {}).get("seq", 0)))  # type: ignore[union-attr]
        finally:
            with self.lock:
                self.active.discard(ticket)


def test_default_handler_marks_events_done_and_says_nothing_is_wired(db_app: Flask) -> None:
    worker.set_event_handler(db_app, worker.default_handler)  # create_app wires the real one
    inbox_id = add(db_app, "a")
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    try:
        processed = worker.process_one(db_app, "w1")
    finally:
        configure_logging("WARNING")
    assert processed is not None
    assert processed.id == inbox_id
    done = row(db_app, inbox_id)
    assert (done.status, done.attempts, done.lease_owner) == (store.DONE, 1, None)
    assert done.processed_at is not None
    assert worker.NO_HANDLER_MESSAGE in stream.getvalue()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    [finished] = [line for line in lines if line["event"] == "event finished"]
    assert (finished["invocation_id"], finished["ticket_id"], finished["lease_kept"]) == (
        "a",
        1,
        True,
    )
    assert worker.process_one(db_app, "w1") is None


def test_a_tickets_later_event_waits_while_an_earlier_one_is_leased(db_app: Flask) -> None:
    first, second = add(db_app, "a", ticket_id=7), add(db_app, "b", ticket_id=7)
    other = add(db_app, "c", ticket_id=8)
    with store.session(db_app) as sess:
        held = inbox.claim(sess, "w1", 60, POLICY)
    assert held is not None
    assert held.id == first
    with store.session(db_app) as sess:
        nxt = inbox.claim(sess, "w2", 60, POLICY)
    assert nxt is not None
    assert nxt.id == other  # ticket 7 is held by w1, so w2 takes ticket 8
    with store.session(db_app) as sess:
        assert inbox.claim(sess, "w3", 60, POLICY) is None
        assert inbox.complete(sess, first, "w1")
    with store.session(db_app) as sess:
        after = inbox.claim(sess, "w3", 60, POLICY)
    assert after is not None
    assert after.id == second


def test_a_crashed_workers_event_is_taken_over_after_the_lease_and_applied_once(
    db_app: Flask,
) -> None:
    """Worker A claims and dies; B gets the event only after the lease expired; effect once."""
    inbox_id = add(db_app, "crash-me", ticket_id=3)
    recorder = Recorder()
    worker.set_event_handler(db_app, recorder)
    with store.session(db_app) as sess:
        claimed = inbox.claim(sess, "worker-a", 60, POLICY)
    assert claimed is not None
    # A never finishes. Before the lease runs out nobody else may touch the ticket.
    assert worker.process_one(db_app, "worker-b") is None
    later = store.utcnow() + timedelta(seconds=61)
    taken = worker.process_one(db_app, "worker-b", now=later)
    assert taken is not None
    assert taken.id == inbox_id
    assert recorder.effects == {"crash-me": 1}
    # A wakes up late: its lease is gone, so it cannot complete (or fail) the event.
    with store.session(db_app) as sess:
        assert inbox.complete(sess, inbox_id, "worker-a") is False
        assert inbox.fail(sess, inbox_id, "worker-a", RuntimeError("late"), POLICY) is None
    final = row(db_app, inbox_id)
    assert (final.status, final.attempts) == (store.DONE, 2)
    assert worker.process_one(db_app, "worker-b", now=later + timedelta(hours=1)) is None
    assert recorder.effects == {"crash-me": 1}


WORKER_SCRIPT = """
import sys, time
from pathlib import Path
from app import create_app
from webhooks import worker

marker = Path(sys.argv[1])
app = create_app({{
    "ENVIRON": {{}},
    "INSTANCE_PATH": {instance!r},
    "SETTINGS": {{"database": {{"url": {url!r}}}, "logging": {{"level": "WARNING"}}}},
}})

def handler(app, event):
    marker.write_text(event.invocation_id)
    time.sleep(600)  # stuck mid-event until killed

worker.set_event_handler(app, handler)
worker.process_one(app, "doomed-worker")
"""


@pytest.mark.integration
def test_a_worker_process_killed_mid_event_is_recovered_exactly_once(
    db_app: Flask, tmp_path: Path
) -> None:
    inbox_id = add(db_app, "killed-mid-event", ticket_id=11)
    script = tmp_path / "doomed_worker.py"
    script.write_text(
        WORKER_SCRIPT.format(
            instance=db_app.instance_path, url=str(store.engine(db_app).url.render_as_string(False))
        )
    )
    marker = tmp_path / "started"
    process = subprocess.Popen(
        [sys.executable, str(script), str(marker)],
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marker.read_text() == "killed-mid-event"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    stuck = row(db_app, inbox_id)
    assert (stuck.status, stuck.lease_owner) == (store.PROCESSING, "doomed-worker")

    recorder = Recorder()
    worker.set_event_handler(db_app, recorder)
    assert worker.process_one(db_app, "restarted") is None  # lease still live
    after_lease = store.utcnow() + timedelta(seconds=61)
    assert worker.process_one(db_app, "restarted", now=after_lease) is not None
    assert recorder.effects == {"killed-mid-event": 1}
    assert row(db_app, inbox_id).status == store.DONE


def test_failures_back_off_exponentially_then_dead_letter_with_the_last_error(
    db_app: Flask,
) -> None:
    db_app.config["CXLAYER"]["webhook"].update(max_attempts=3, retry_base_seconds=10)
    inbox_id = add(db_app, "flaky", ticket_id=5)
    later_same_ticket = add(db_app, "behind", ticket_id=5)
    recorder = Recorder(fail_times=10)
    worker.set_event_handler(db_app, recorder)

    now = store.utcnow()
    assert worker.process_one(db_app, "w", now=now) is not None
    first = row(db_app, inbox_id)
    assert (first.status, first.attempts) == (store.PENDING, 1)
    assert first.last_error == "RuntimeError: Zendesk said 503"
    assert first.next_attempt_at == now + timedelta(seconds=10)
    # Not due yet; and the ticket's later event must wait behind it (order).
    assert worker.process_one(db_app, "w", now=now + timedelta(seconds=1)) is None

    assert worker.process_one(db_app, "w", now=now + timedelta(seconds=20)) is not None
    second = row(db_app, inbox_id)
    assert second.attempts == 2
    assert second.next_attempt_at == now + timedelta(seconds=20 + 20)  # the delay doubled

    assert worker.process_one(db_app, "w", now=now + timedelta(hours=1)) is not None
    dead = row(db_app, inbox_id)
    assert (dead.status, dead.attempts) == (store.FAILED, 3)
    assert dead.last_error == "RuntimeError: Zendesk said 503"
    assert recorder.calls == ["flaky", "flaky", "flaky"]

    # Dead letters no longer hold the ticket back.
    recorder.fail_times = 0
    assert worker.process_one(db_app, "w", now=now + timedelta(hours=1)) is not None
    assert row(db_app, later_same_ticket).status == store.DONE

    runner = db_app.test_cli_runner()
    listed = runner.invoke(args=["inbox", "list", "--failed"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.strip().splitlines()
    assert len(lines) == 2
    assert lines[1].split("\t")[:5] == [str(inbox_id), "failed", "3", "5", "status_changed"]
    assert "RuntimeError: Zendesk said 503" in lines[1]

    retried = runner.invoke(args=["inbox", "retry", str(inbox_id)])
    assert retried.exit_code == 0, retried.output
    assert retried.output.strip() == inbox_cli.REQUEUED.format(
        id=inbox_id, ticket_id=5, kind="status_changed", invocation_id="flaky"
    )
    requeued = row(db_app, inbox_id)
    assert (requeued.status, requeued.attempts) == (store.PENDING, 0)
    assert worker.process_one(db_app, "w") is not None
    assert row(db_app, inbox_id).status == store.DONE
    assert recorder.effects == {"behind": 1, "flaky": 1}
    assert runner.invoke(args=["inbox", "list", "--failed"]).output.strip() == (
        inbox_cli.NOTHING_LISTED
    )


def test_an_expired_last_attempt_is_dead_lettered_not_retried_forever(db_app: Flask) -> None:
    inbox_id = add(db_app, "poison", ticket_id=9)
    now = store.utcnow()
    for attempt in range(POLICY.max_attempts):
        with store.session(db_app) as sess:
            claimed = inbox.claim(sess, f"w{attempt}", 60, POLICY, now=now)
        assert claimed is not None
        now += timedelta(seconds=61)  # each worker dies holding it
    with store.session(db_app) as sess:
        assert inbox.claim(sess, "last", 60, POLICY, now=now) is None
    dead = row(db_app, inbox_id)
    assert dead.status == store.FAILED
    assert dead.last_error == "lease of w2 expired on the last attempt"


def test_inbox_cli_errors_are_clear(db_app: Flask) -> None:
    runner = db_app.test_cli_runner()
    assert runner.invoke(args=["inbox", "list"]).output.strip() == inbox_cli.NOTHING_LISTED
    missing = runner.invoke(args=["inbox", "retry", "999"])
    assert missing.exit_code == 1
    assert "no inbox event 999" in missing.output
    pending = add(db_app, "p")
    busy = runner.invoke(args=["inbox", "retry", str(pending)])
    assert busy.exit_code == 1
    assert f"inbox event {pending} is already pending" in busy.output
    with store.session(db_app) as sess:
        ignored = inbox.add_event(
            sess,
            invocation_id="odd",
            webhook_id=None,
            data={"event": "ticket_merged_somehow"},
            payload={},
            ignored=True,
        )
    refused = runner.invoke(args=["inbox", "retry", str(ignored)])
    assert refused.exit_code == 1
    assert "is of a kind nobody handles (ticket_merged_somehow)" in refused.output
    listed = runner.invoke(args=["inbox", "list", "--status", "pending"])
    assert listed.output.splitlines()[1].startswith(f"{pending}\tpending\t0\t1\t")


def test_lease_renewal_keeps_a_slow_event_from_being_taken_over(db_app: Flask) -> None:
    inbox_id = add(db_app, "slow")
    with store.session(db_app) as sess:
        claimed = inbox.claim(sess, "w1", 1, POLICY)
    assert claimed is not None
    before = claimed.lease_expires_at
    assert before is not None
    with store.session(db_app) as sess:
        assert inbox.renew(sess, inbox_id, "w1", 120)
        assert not inbox.renew(sess, inbox_id, "someone-else", 120)
    renewed = row(db_app, inbox_id).lease_expires_at
    assert renewed is not None
    assert renewed > before + timedelta(seconds=100)


def test_1000_shuffled_events_for_50_tickets_are_handled_in_order_by_4_workers(
    make_db_app: Callable[..., Flask], post_signed: PostSigned
) -> None:
    """Arrival interleaves tickets at random; each ticket's events are handled in arrival
    order, one at a time, exactly once."""
    app = make_db_app()
    rng = random.Random(5)
    slots = [ticket for ticket in range(1, 51) for _ in range(20)]
    rng.shuffle(slots)
    next_seq: dict[int, int] = defaultdict(int)
    for n, ticket in enumerate(slots):
        next_seq[ticket] += 1
        body = event_body(ticket_id=str(ticket), extras={"seq": next_seq[ticket]})
        assert post_signed(body, invocation_id=f"inv-{n}", app=app).status_code == 202

    recorder = Recorder()
    worker.set_event_handler(app, recorder)
    pool = worker.WorkerPool(app, 4)
    pool.start()
    try:
        deadline = time.monotonic() + 300  # a safety stop, not a speed assertion
        while counts(app).get(store.DONE, 0) < 1000 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        pool.stop()
    assert counts(app) == {store.DONE: 1000}
    assert recorder.overlaps == []
    assert len(recorder.effects) == 1000
    assert set(recorder.effects.values()) == {1}
    assert dict(recorder.order) == {t: list(range(1, 21)) for t in range(1, 51)}


def test_registered_jobs_run_on_the_scheduler(db_app: Flask) -> None:
    ran = threading.Event()
    seen: list[Flask] = []

    def job(app: Flask) -> None:
        seen.append(app)
        ran.set()

    worker.register_job(db_app, "test.once", job, trigger="date", run_date=store.utcnow())
    runtime = worker.Runtime(db_app, workers=1)
    assert runtime.scheduler is not None
    assert {"inbox.prune", "test.once"} <= {j.id for j in runtime.scheduler.get_jobs()}
    runtime.start()
    try:
        assert ran.wait(30)
    finally:
        runtime.stop()
    assert seen == [db_app]


def test_worker_command_refuses_an_unmigrated_database(
    make_db_app: Callable[..., Flask],
) -> None:
    app = make_db_app(migrate=False)
    result = app.test_cli_runner().invoke(args=["worker"])
    assert result.exit_code == 1
    assert "run `flask --app app db upgrade`" in result.output


def _service_env(db_app: Flask) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "CXLAYER_DATABASE_URL": store.engine(db_app).url.render_as_string(False),
        "CXLAYER_LOGGING_LEVEL": "INFO",
    }


@pytest.mark.integration
def test_worker_process_drains_the_inbox_and_stops_cleanly_on_sigterm(db_app: Flask) -> None:
    # One event per ticket: with the real handler failing (no Zendesk settings here), a
    # ticket's later events would rightly wait behind its first one.
    ids = [add(db_app, f"w-{n}", ticket_id=n + 1) for n in range(6)]
    env = _service_env(db_app)
    process = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "app", "worker", "-n", "2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if all(attempted(row(db_app, inbox_id)) for inbox_id in ids):
                break
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output.decode()
    assert all(attempted(row(db_app, inbox_id)) for inbox_id in ids)
    assert store.PROCESSING not in counts(db_app)  # stopped without abandoning a lease
    events = [
        json.loads(line)["event"] for line in output.decode().splitlines() if line.startswith("{")
    ]
    assert "workers stopped" in events


def test_pruning_forgets_old_finished_events_but_keeps_dead_letters_and_recent_ones(
    db_app: Flask,
) -> None:
    old_done, old_failed, recent_done = (
        add(db_app, "a", 1),
        add(db_app, "b", 2),
        add(db_app, "c", 3),
    )
    old_pending = add(db_app, "d", 4)
    long_ago = store.utcnow() - timedelta(days=40)
    with store.session(db_app) as sess:
        for inbox_id, status in ((old_done, store.DONE), (old_failed, store.FAILED)):
            event = sess.get(store.InboxEvent, inbox_id)
            assert event is not None
            event.status, event.received_at = status, long_ago
        pending = sess.get(store.InboxEvent, old_pending)
        assert pending is not None
        pending.received_at = long_ago
        finished = sess.get(store.InboxEvent, recent_done)
        assert finished is not None
        finished.status = store.DONE
    worker.prune_inbox(db_app)
    with store.session(db_app) as sess:
        left = sorted(sess.scalars(select(store.InboxEvent.id)))
    assert left == [old_failed, recent_done, old_pending]


def test_ticket_event_marks_the_services_own_changes(db_app: Flask) -> None:
    with store.session(db_app) as sess:
        inbox.add_event(
            sess,
            invocation_id="mine",
            webhook_id="wh-1",
            data={"event": "status_changed", "ticket_id": 12, "current_user_id": 99},
            payload={"event": "status_changed"},
        )
    [event] = [row(db_app, 1)]
    assert worker.ticket_event(db_app, event).by_service is False  # service user unknown yet
    with store.session(db_app) as sess:
        store.set_state(sess, store.SERVICE_USER_ID, 99)
    converted = worker.ticket_event(db_app, event)
    assert (converted.kind, converted.ticket_id, converted.actor_id) == ("status_changed", 12, 99)
    assert converted.by_service is True


POOL_SCRIPT = """
import json, os, sys, time
from pathlib import Path
from app import create_app
import store
from webhooks import inbox, worker

out = open(sys.argv[1], "a")
app = create_app({{
    "ENVIRON": {{}},
    "INSTANCE_PATH": {instance!r},
    "SETTINGS": {{"database": {{"url": {url!r}}}, "logging": {{"level": "WARNING"}}}},
}})

def handler(app, event):
    start = time.monotonic()  # CLOCK_MONOTONIC: comparable between processes
    time.sleep(0.002)
    out.write(json.dumps({{"ticket": event.ticket_id, "seq": event.payload["seq"],
        "invocation": event.invocation_id, "start": start, "end": time.monotonic()}}) + "\\n")
    out.flush()

worker.set_event_handler(app, handler)
ready = Path(sys.argv[2])
(ready / str(os.getpid())).touch()
while len(list(ready.iterdir())) < 2:  # start together, so both processes compete
    time.sleep(0.01)
pool = worker.WorkerPool(app, 2)
pool.start()
deadline = time.monotonic() + 240
while time.monotonic() < deadline:
    with store.session(app) as sess:
        left = inbox.unfinished_count(sess)
    if not left:
        break
    time.sleep(0.1)
pool.stop()
"""


@pytest.mark.integration
def test_two_worker_processes_keep_each_tickets_events_in_order_and_apart(
    db_app: Flask, tmp_path: Path
) -> None:
    """2 processes × 2 threads coordinate through the database only."""
    rng = random.Random(11)
    slots = [ticket for ticket in range(1, 11) for _ in range(20)]
    rng.shuffle(slots)
    seq: dict[int, int] = defaultdict(int)
    with store.session(db_app) as sess:
        for n, ticket in enumerate(slots):
            seq[ticket] += 1
            inbox.add_event(
                sess,
                invocation_id=f"p-{n}",
                webhook_id=None,
                data={"event": "status_changed", "ticket_id": ticket},
                payload={"seq": seq[ticket]},
            )
    script = tmp_path / "pool.py"
    script.write_text(
        POOL_SCRIPT.format(
            instance=db_app.instance_path, url=store.engine(db_app).url.render_as_string(False)
        )
    )
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(ROOT)}
    outputs = [tmp_path / f"records-{i}.jsonl" for i in range(2)]
    ready = tmp_path / "ready"
    ready.mkdir()
    processes = [
        subprocess.Popen([sys.executable, str(script), str(out), str(ready)], cwd=ROOT, env=env)
        for out in outputs
    ]
    try:
        codes = [p.wait(timeout=300) for p in processes]
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    assert codes == [0, 0]
    records = [json.loads(line) for out in outputs for line in out.read_text().splitlines()]
    assert sorted(r["invocation"] for r in records) == sorted(f"p-{n}" for n in range(200))
    assert all(out.read_text() for out in outputs)  # both processes took part
    by_ticket: dict[int, list[dict[str, float]]] = defaultdict(list)
    for record in records:
        by_ticket[record["ticket"]].append(record)
    for ticket, handled in by_ticket.items():
        handled.sort(key=lambda r: r["start"])
        assert [r["seq"] for r in handled] == list(range(1, 21)), ticket
        for before, after in itertools.pairwise(handled):
            assert before["end"] <= after["start"], f"ticket {ticket} handled twice at once"
    assert counts(db_app) == {store.DONE: 200}


def test_a_redelivered_invocation_is_processed_once(
    make_db_app: Callable[..., Flask], post_signed: PostSigned
) -> None:
    """Zendesk retries after a timeout even though we stored the first delivery."""
    app = make_db_app()
    recorder = Recorder()
    worker.set_event_handler(app, recorder)
    assert post_signed(invocation_id="retried", app=app).status_code == 202
    assert worker.process_one(app, "w") is not None
    assert post_signed(invocation_id="retried", app=app).status_code == 200  # after processing
    assert post_signed(invocation_id="retried", app=app).status_code == 200
    assert worker.process_one(app, "w") is None
    assert recorder.calls == ["retried"]
    assert counts(app) == {store.DONE: 1}


def test_a_slow_handler_keeps_its_lease_but_a_stuck_one_loses_it(db_app: Flask) -> None:
    """Renewal lets long Zendesk waits finish; past max_processing_seconds the lease lapses,
    another worker takes the event over, and the stuck worker can no longer complete it."""
    db_app.config["CXLAYER"]["webhook"].update(lease_seconds=0.3, max_processing_seconds=0.6)
    inbox_id = add(db_app, "stuck", ticket_id=4)
    leases: list[datetime | None] = []
    taken_over: list[store.InboxEvent | None] = []

    def handler(app: Flask, event: store.InboxEvent) -> None:
        if event.lease_owner != "stuck-worker":
            return  # the second worker finishes quickly
        for _ in range(10):  # "working" for 2 s (a second past the last renewal's expiry)
            time.sleep(0.2)
            leases.append(row(app, event.id).lease_expires_at)
        taken_over.append(worker.process_one(app, "rescuer"))

    worker.set_event_handler(db_app, handler)
    assert worker.process_one(db_app, "stuck-worker") is not None
    assert len(set(leases)) > 2  # renewed while the handler ran
    assert leases[-1] is not None
    assert leases[-1] < store.utcnow()  # then no longer: the lease lapsed
    [rescued] = taken_over
    assert rescued is not None
    assert rescued.id == inbox_id
    final = row(db_app, inbox_id)
    assert (final.status, final.attempts, final.lease_owner) == (store.DONE, 2, None)
