"""Two inbox worker threads and the duplicate index's memory lock: one lock order.

The probe's stall: worker A holds SQLite's write lock (its handler session has written, e.g.
who spoke last) and asks for the index's memory lock; worker B holds the memory lock and waits
for the write lock. Only the 15 s busy timeout broke it, with "database is locked" for B.
"""

from __future__ import annotations

import threading
import time

from flask import Flask

import store
from duplicates.detection import current_index, index_state

WAIT = 60.0


def test_a_writer_and_an_index_refresh_in_two_threads_do_not_stall_each_other(
    db_app: Flask,
) -> None:
    state = index_state(db_app)
    a_writes, b_entering = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def worker_a() -> None:
        try:
            with store.session(db_app) as sess:
                store.set_state(sess, "test.a", 1)  # the write lock (SQLite) is now A's
                sess.flush()
                a_writes.set()
                assert b_entering.wait(WAIT)
                # Give B time to reach where it blocks; the old code took the memory lock first.
                deadline = time.monotonic() + 2.0
                while time.monotonic() < deadline:
                    if not state.lock.acquire(blocking=False):
                        break  # B holds it: the old pattern is set up
                    state.lock.release()
                    time.sleep(0.02)
                current_index(db_app, sess)
        except BaseException as exc:
            errors.append(exc)

    def worker_b() -> None:
        try:
            assert a_writes.wait(WAIT)
            b_entering.set()
            with store.session(db_app) as sess:
                current_index(db_app, sess)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker_a), threading.Thread(target=worker_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    assert not any(t.is_alive() for t in threads)
    assert errors == []  # the old order: B failed with "database is locked" after 15 s
    with store.session(db_app, readonly=True) as sess:
        assert store.get_state(sess, "test.a") == 1
