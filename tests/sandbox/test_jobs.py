"""Background jobs: update_many, merge and bulk imports, with job statuses completing asynchronously."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests
from zenpy.lib.api_objects import Comment, Ticket

from sandbox import errors
from sandbox.testing import SandboxHandle

Checked = Callable[[requests.Response], Any]


def create(zd: SandboxHandle, **ticket: Any) -> dict[str, Any]:
    ticket.setdefault("subject", "Unable to send IO")
    ticket.setdefault("comment", {"body": "Vendor contact missing"})
    response = zd.api("POST", "tickets.json", json={"ticket": ticket})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()["ticket"]
    return created


def test_update_many_list_form_completes_with_per_ticket_results(
    sandbox: SandboxHandle, checked: Checked
) -> None:
    a, b = create(sandbox), create(sandbox)
    sandbox.pause_jobs()
    job = checked(
        sandbox.api(
            "PUT",
            "tickets/update_many.json",
            json={
                "tickets": [{"id": a["id"], "status": "open"}, {"id": b["id"], "priority": "high"}]
            },
        )
    )["job_status"]
    assert job["status"] == "queued"
    assert job["total"] == 2
    assert job["url"].startswith(sandbox.base_url + "/api/v2/job_statuses/")
    queued = checked(sandbox.api("GET", f"job_statuses/{job['id']}.json"))["job_status"]
    assert queued["status"] == "queued"
    sandbox.pause_jobs(False)
    done = sandbox.wait_job(job["id"])
    checked(sandbox.api("GET", f"job_statuses/{job['id']}.json"))
    assert done["status"] == "completed"
    assert [(r["id"], r["success"]) for r in done["results"]] == [(a["id"], True), (b["id"], True)]
    assert sandbox.api("GET", f"tickets/{a['id']}.json").json()["ticket"]["status"] == "open"
    assert sandbox.api("GET", f"tickets/{b['id']}.json").json()["ticket"]["priority"] == "high"


def test_update_many_ids_form_applies_one_change_to_all(sandbox: SandboxHandle) -> None:
    ids = [create(sandbox)["id"] for _ in range(3)]
    response = sandbox.api(
        "PUT",
        f"tickets/update_many.json?ids={','.join(map(str, ids))}",
        json={"ticket": {"additional_tags": ["bulk"]}},
    )
    done = sandbox.wait_job(response.json()["job_status"]["id"])
    assert done["status"] == "completed"
    many = sandbox.api("GET", f"tickets/show_many.json?ids={','.join(map(str, ids))}").json()[
        "tickets"
    ]
    assert all("bulk" in t["tags"] for t in many)


def test_update_many_over_100_is_400_and_queues_nothing(sandbox: SandboxHandle) -> None:
    response = sandbox.api(
        "PUT",
        "tickets/update_many.json",
        json={"tickets": [{"id": i, "status": "open"} for i in range(1, 102)]},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "TooManyValues"
    assert sandbox.api("GET", "job_statuses.json").json()["job_statuses"] == []


def test_conflicting_ticket_alone_fails_inside_a_batch(sandbox: SandboxHandle) -> None:
    fresh, stale = create(sandbox), create(sandbox)
    sandbox.api(
        "PUT",
        f"tickets/{stale['id']}.json",
        json={"ticket": {"priority": "low", "status": "new"}},  # stays New: status given
    )
    response = sandbox.api(
        "PUT",
        "tickets/update_many.json",
        json={
            "tickets": [
                {
                    "id": fresh["id"],
                    "status": "open",
                    "safe_update": True,
                    "updated_stamp": fresh["updated_at"],
                },
                {
                    "id": stale["id"],
                    "status": "open",
                    "safe_update": True,
                    "updated_stamp": stale["updated_at"],
                },
            ]
        },
    )
    done = sandbox.wait_job(response.json()["job_status"]["id"])
    assert done["status"] == "completed"
    ok, failed = done["results"]
    assert ok == {"id": fresh["id"], "action": "update", "success": True, "status": "Updated"}
    assert failed["id"] == stale["id"]
    assert failed["success"] is False
    assert failed["error"] == "UpdateConflict"
    assert sandbox.api("GET", f"tickets/{stale['id']}.json").json()["ticket"]["status"] == "new"


def test_more_than_30_active_jobs_is_429_too_many_jobs(sandbox: SandboxHandle) -> None:
    ticket = create(sandbox)
    sandbox.pause_jobs()
    body = {"tickets": [{"id": ticket["id"], "priority": "low"}]}
    for _ in range(30):
        assert sandbox.api("PUT", "tickets/update_many.json", json=body).status_code == 200
    refused = sandbox.api("PUT", "tickets/update_many.json", json=body)
    assert refused.status_code == 429
    assert refused.json() == {
        "error": "TooManyJobs",
        "description": errors.TOO_MANY_JOBS_DESCRIPTION,
    }
    sandbox.pause_jobs(False)


def test_show_many_job_statuses(sandbox: SandboxHandle, checked: Checked) -> None:
    ticket = create(sandbox)
    ids = [
        sandbox.api(
            "PUT", f"tickets/update_many.json?ids={ticket['id']}", json={"ticket": {"priority": p}}
        ).json()["job_status"]["id"]
        for p in ("low", "high")
    ]
    for job_id in ids:
        sandbox.wait_job(job_id)
    many = checked(sandbox.api("GET", f"job_statuses/show_many.json?ids={','.join(ids)}"))[
        "job_statuses"
    ]
    assert [j["id"] for j in many] == ids
    assert {j["status"] for j in many} == {"completed"}


def test_merge_closes_sources_with_comments_as_a_job(
    sandbox: SandboxHandle, checked: Checked
) -> None:
    target, source = create(sandbox), create(sandbox)
    job = checked(
        sandbox.api(
            "POST",
            f"tickets/{target['id']}/merge.json",
            json={"ids": [source["id"]], "source_comment": "Merged."},
        )
    )["job_status"]
    done = sandbox.wait_job(job["id"])
    assert done["status"] == "completed"
    merged = sandbox.api("GET", f"tickets/{source['id']}.json").json()["ticket"]
    assert merged["status"] == "closed"
    assert "closed_by_merge" in merged["tags"]
    bodies = [
        c["body"]
        for c in sandbox.api("GET", f"tickets/{source['id']}/comments.json").json()["comments"]
    ]
    assert bodies[-1] == "Merged."
    target_comments = sandbox.api("GET", f"tickets/{target['id']}/comments.json").json()["comments"]
    assert f"#{source['id']}" in target_comments[-1]["body"]


def test_import_keeps_backdated_times_and_comment_authors(
    sandbox: SandboxHandle, checked: Checked
) -> None:
    agent = sandbox.api(
        "POST",
        "users.json",
        json={"user": {"name": "Agent", "email": "a@mo.example", "role": "agent"}},
    ).json()["user"]
    client = sandbox.api(
        "POST", "users.json", json={"user": {"name": "Client", "email": "c@ag.example"}}
    ).json()["user"]
    imported = checked(
        sandbox.api(
            "POST",
            "imports/tickets.json",
            json={
                "ticket": {
                    "subject": "Old issue",
                    "requester_id": client["id"],
                    "assignee_id": agent["id"],
                    "status": "solved",
                    "created_at": "2024-01-02T10:00:00Z",
                    "updated_at": "2024-01-05T10:00:00Z",
                    "solved_at": "2024-01-05T10:00:00Z",
                    "comments": [
                        {
                            "author_id": client["id"],
                            "body": "Help",
                            "created_at": "2024-01-02T10:00:00Z",
                        },
                        {
                            "author_id": agent["id"],
                            "body": "Fixed",
                            "created_at": "2024-01-04T09:00:00Z",
                        },
                    ],
                }
            },
        )
    )["ticket"]
    assert imported["created_at"] == "2024-01-02T10:00:00Z"
    assert imported["updated_at"] == "2024-01-05T10:00:00Z"
    assert imported["status"] == "solved"
    comments = sandbox.api("GET", f"tickets/{imported['id']}/comments.json").json()["comments"]
    assert [(c["author_id"], c["created_at"]) for c in comments] == [
        (client["id"], "2024-01-02T10:00:00Z"),
        (agent["id"], "2024-01-04T09:00:00Z"),
    ]
    metric = sandbox.api("GET", f"tickets/{imported['id']}/metrics.json").json()["ticket_metric"]
    assert metric["solved_at"] == "2024-01-05T10:00:00Z"


def test_merge_with_unknown_source_is_404_and_queues_nothing(sandbox: SandboxHandle) -> None:
    target = create(sandbox)
    response = sandbox.api("POST", f"tickets/{target['id']}/merge.json", json={"ids": [999999]})
    assert response.status_code == 404
    assert sandbox.api("GET", "job_statuses.json").json()["job_statuses"] == []


def test_import_create_many_is_a_job_reporting_new_ids(
    sandbox: SandboxHandle, checked: Checked
) -> None:
    tickets = [
        {
            "subject": f"Imported {n}",
            "comments": [{"body": f"Body {n}"}],
            "created_at": "2024-03-01T00:00:00Z",
        }
        for n in range(3)
    ]
    job = checked(
        sandbox.api("POST", "imports/tickets/create_many.json", json={"tickets": tickets})
    )["job_status"]
    done = sandbox.wait_job(job["id"])
    assert done["status"] == "completed"
    ids = [r["id"] for r in done["results"]]
    shown = sandbox.api("GET", f"tickets/show_many.json?ids={','.join(map(str, ids))}").json()[
        "tickets"
    ]
    assert sorted(t["subject"] for t in shown) == ["Imported 0", "Imported 1", "Imported 2"]
    assert {t["created_at"] for t in shown} == {"2024-03-01T00:00:00Z"}
    too_many = sandbox.api(
        "POST", "imports/tickets/create_many.json", json={"tickets": tickets * 34}
    )
    assert too_many.status_code == 400


def test_zenpy_update_many_and_job_polling(sandbox_zenpy: Any, sandbox: SandboxHandle) -> None:
    created = [
        sandbox_zenpy.tickets.create(Ticket(subject=f"T{n}", description="d")).ticket
        for n in range(2)
    ]
    for ticket in created:
        ticket.status = "pending"
        ticket.comment = Comment(body="Awaiting your reply", public=True)
    job = sandbox_zenpy.tickets.update(created)
    status = sandbox_zenpy.job_status(id=job.id)
    while status.status not in ("completed", "failed"):
        status = sandbox_zenpy.job_status(id=job.id)
    assert status.status == "completed"
    assert [r["success"] for r in sandbox.wait_job(job.id)["results"]] == [True, True]
    shown = [sandbox.api("GET", f"tickets/{t.id}.json").json()["ticket"] for t in created]
    assert {t["status"] for t in shown} == {"pending"}


def test_zenpy_merge_and_ticket_import(sandbox_zenpy: Any, sandbox: SandboxHandle) -> None:
    target = sandbox_zenpy.tickets.create(Ticket(subject="Original", description="d")).ticket
    duplicate = sandbox_zenpy.tickets.create(
        Ticket(subject="Same issue again", description="d")
    ).ticket
    job = sandbox_zenpy.tickets.merge(target.id, [duplicate.id])
    assert sandbox.wait_job(job.id)["status"] == "completed"
    assert sandbox.api("GET", f"tickets/{duplicate.id}.json").json()["ticket"]["status"] == "closed"
    imported = sandbox_zenpy.ticket_import.create(
        Ticket(subject="Backdated", description="old", created_at="2023-05-01T12:00:00Z")
    )
    assert imported.created_at == "2023-05-01T12:00:00Z"


def test_jobs_left_queued_by_a_stopped_sandbox_fail_on_restart(tmp_path: Any) -> None:
    from sandbox.testing import run_sandbox

    db = str(tmp_path / "zd.sqlite")
    with run_sandbox(db=db) as zd:
        ticket = create(zd)
        zd.pause_jobs()
        job_id = zd.api(
            "PUT",
            f"tickets/update_many.json?ids={ticket['id']}",
            json={"ticket": {"priority": "low"}},
        ).json()["job_status"]["id"]
    with run_sandbox(db=db) as again:
        job = again.api("GET", f"job_statuses/{job_id}.json").json()["job_status"]
        assert (job["status"], job["message"]) == ("failed", "Failed: the sandbox restarted")
        assert again.api("GET", f"tickets/{ticket['id']}.json").json()["ticket"]["priority"] is None


def test_merge_into_a_closed_ticket_is_422(sandbox: SandboxHandle) -> None:
    target, source = create(sandbox, status="closed"), create(sandbox)
    response = sandbox.api(
        "POST", f"tickets/{target['id']}/merge.json", json={"ids": [source["id"]]}
    )
    assert response.status_code == 422


def test_zenpy_create_many_creates_tickets_in_a_job(
    sandbox_zenpy: Any, sandbox: SandboxHandle
) -> None:
    job = sandbox_zenpy.tickets.create(
        [Ticket(subject=f"Bulk {n}", description="d") for n in range(3)]
    )
    done = sandbox.wait_job(job.id)
    assert done["status"] == "completed"
    ids = [r["id"] for r in done["results"]]
    shown = sandbox.api("GET", f"tickets/show_many.json?ids={','.join(map(str, ids))}").json()[
        "tickets"
    ]
    assert sorted(t["subject"] for t in shown) == ["Bulk 0", "Bulk 1", "Bulk 2"]
    assert {t["status"] for t in shown} == {"new"}
