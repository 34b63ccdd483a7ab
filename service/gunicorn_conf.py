"""gunicorn settings for the web app of a multi-process or multi-host deployment:

    PROMETHEUS_MULTIPROC_DIR=/run/cxlayer-metrics \
    gunicorn -c service/gunicorn_conf.py --bind 127.0.0.1:5000 'app:create_app()'

Threads per worker so one slow request does not hold a whole worker; request line and header
limits; a worker that hangs is replaced after `timeout`. gunicorn reads a request inside the
worker, so on the internet put a buffering reverse proxy in front (README, "Operations").
With PROMETHEUS_MULTIPROC_DIR set (an empty directory, emptied before every start), /metrics
aggregates every worker; a dead worker's gauges are dropped by `child_exit`.
"""

from __future__ import annotations

from typing import Any

import metrics

worker_class = "gthread"
workers = 2
threads = 8
timeout = 60  # seconds a worker may stay silent before it is replaced
graceful_timeout = 30  # SIGTERM: requests in hand get this long
keepalive = 5
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190


def child_exit(_server: Any, worker: Any) -> None:
    metrics.mark_process_dead(worker.pid)
