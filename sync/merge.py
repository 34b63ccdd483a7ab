"""Zendesk's ticket merge: `POST /api/v2/tickets/{target}/merge` and its job, waited for.

Zendesk merges in a background job ("Merge Tickets into Target Ticket", Tickets API): the
sources get `source_comment` and are closed (tag `closed_by_merge`), the target gets
`target_comment`. A merge cannot be undone in Zendesk. The answer is the finished job status;
`ZendeskError` when the job fails; `MergeOutcomeUnknown` when it does not finish in time
(re-read the tickets before anything else).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sync.client import ZendeskClient
from sync.http import ZendeskError

JOB_TIMEOUT_SECONDS = 60.0


class MergeOutcomeUnknown(ZendeskError):
    """The merge job did not finish in time: Zendesk may still merge the tickets."""


@dataclass(frozen=True)
class MergeComments:
    """The comment each side gets, and whether the requester sees it."""

    source: str
    target: str
    source_public: bool
    target_public: bool


def merge_tickets(
    client: ZendeskClient,
    target_id: int,
    source_ids: list[int],
    comments: MergeComments,
    *,
    timeout: float = JOB_TIMEOUT_SECONDS,
) -> dict[str, Any]:
    """Merge `source_ids` into `target_id` and wait for Zendesk's job; the finished job."""
    answer = client.call(
        "POST",
        f"/api/v2/tickets/{target_id}/merge.json",
        body={
            "ids": source_ids,
            "source_comment": comments.source,
            "source_comment_is_public": comments.source_public,
            "target_comment": comments.target,
            "target_comment_is_public": comments.target_public,
        },
    )
    job_id = str(answer["job_status"]["id"])
    deadline = time.monotonic() + timeout
    delay = client.poll_initial_seconds
    while True:
        time.sleep(delay)
        job: dict[str, Any] = client.call("GET", f"/api/v2/job_statuses/{job_id}.json")[
            "job_status"
        ]
        status = job.get("status")
        if status == "completed":
            failed = [r for r in job.get("results") or [] if r.get("success") is False]
            if failed:
                raise ZendeskError(f"Zendesk did not merge: {failed[0].get('error') or failed}")
            return job
        if status in ("failed", "killed"):
            raise ZendeskError(f"Zendesk's merge job {status}: {job.get('message') or ''}".strip())
        if time.monotonic() > deadline:
            raise MergeOutcomeUnknown(
                f"Zendesk's merge job {job_id} did not finish in {timeout:.0f} s; "
                "re-read the tickets to see whether they were merged"
            )
        delay = min(delay * 2, client.poll_max_seconds)
