"""Tickets over real HTTP: auth, CRUD, comments, status semantics, 409/422, against the OAS."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests
from zenpy.lib.api_objects import Comment, Ticket
from zenpy.lib.exception import APIException

from sandbox import errors
from sandbox.testing import SandboxHandle

Checked = Callable[[requests.Response], Any]


def make_user(
    zd: SandboxHandle, role: str = "end-user", name: str = "Riley Client"
) -> dict[str, Any]:
    email = f"{name.lower().replace(' ', '.')}.{role}@agency.example"
    response = zd.api(
        "POST", "users.json", json={"user": {"name": name, "email": email, "role": role}}
    )
    assert response.status_code == 201, response.text
    user: dict[str, Any] = response.json()["user"]
    return user


def create(zd: SandboxHandle, **ticket: Any) -> dict[str, Any]:
    ticket.setdefault("subject", "Prisma campaign missing")
    ticket.setdefault("comment", {"body": "The campaign is not in the Buy Sheet."})
    response = zd.api("POST", "tickets.json", json={"ticket": ticket})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()["ticket"]
    return created


def statuses(zd: SandboxHandle) -> dict[str, int]:
    items = zd.api("GET", "custom_statuses.json").json()["custom_statuses"]
    return {s["status_category"]: s["id"] for s in items if s["default"]}


def test_wrong_token_gets_zendesks_401_body(sandbox: SandboxHandle) -> None:
    response = requests.get(
        sandbox.base_url + "/api/v2/tickets.json",
        auth=(f"{sandbox.email}/token", "nope"),
        timeout=10,
    )
    assert response.status_code == 401
    assert response.json() == errors.UNAUTHORIZED


def test_missing_credentials_get_401(sandbox: SandboxHandle) -> None:
    response = requests.get(sandbox.base_url + "/api/v2/tickets.json", timeout=10)
    assert response.status_code == 401


def test_bearer_token_authenticates_as_admin(sandbox: SandboxHandle) -> None:
    response = requests.get(
        sandbox.base_url + "/api/v2/users/me.json",
        headers={"Authorization": f"Bearer {sandbox.oauth_token}"},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["user"]["email"] == sandbox.email


def test_create_show_list_and_show_many_match_the_oas(
    sandbox: SandboxHandle, checked: Checked
) -> None:
    requester = make_user(sandbox)
    created = checked(
        sandbox.api(
            "POST",
            "tickets.json",
            json={
                "ticket": {
                    "subject": "Invoice unmatched",
                    "comment": {"body": "INV-1"},
                    "requester_id": requester["id"],
                }
            },
        )
    )
    ticket = created["ticket"]
    assert ticket["status"] == "new"
    assert ticket["requester_id"] == requester["id"]
    assert ticket["description"] == "INV-1"
    shown = checked(sandbox.api("GET", f"tickets/{ticket['id']}.json"))["ticket"]
    assert shown["updated_at"] == ticket["updated_at"]
    second = create(sandbox)
    listed = checked(sandbox.api("GET", "tickets.json"))
    assert [t["id"] for t in listed["tickets"]] == [ticket["id"], second["id"]]
    many = checked(
        sandbox.api("GET", f"tickets/show_many.json?ids={second['id']},{ticket['id']},999")
    )
    assert sorted(t["id"] for t in many["tickets"]) == [ticket["id"], second["id"]]


def test_unknown_ticket_is_404_record_not_found(sandbox: SandboxHandle) -> None:
    response = sandbox.api("GET", "tickets/424242.json")
    assert response.status_code == 404
    assert response.json()["error"] == "RecordNotFound"


def test_update_with_comment_adds_comment_with_author_and_public_flag(
    sandbox: SandboxHandle, checked: Checked
) -> None:
    agent = make_user(sandbox, "agent", "Dana Agent")
    ticket = create(sandbox)
    body = checked(
        sandbox.api(
            "PUT",
            f"tickets/{ticket['id']}.json",
            json={
                "ticket": {
                    "comment": {"body": "Internal note", "public": False, "author_id": agent["id"]}
                }
            },
        )
    )
    assert body["audit"]["events"][0]["type"] == "Comment"
    comments = checked(sandbox.api("GET", f"tickets/{ticket['id']}/comments.json"))["comments"]
    assert [(c["body"], c["public"], c["author_id"]) for c in comments] == [
        ("The campaign is not in the Buy Sheet.", True, ticket["requester_id"]),
        ("Internal note", False, agent["id"]),
    ]
    assert all(c["created_at"].endswith("Z") for c in comments)


def test_list_comments_side_loads_their_authors_with_include_users(
    sandbox: SandboxHandle, checked: Checked
) -> None:
    """List Comments `include=users` (Ticket Comments API): the page's authors as `users`,
    with their roles; without it, no `users` key."""
    agent = make_user(sandbox, "agent", "Sam Agent")
    ticket = create(sandbox)
    sandbox.api(
        "PUT",
        f"tickets/{ticket['id']}.json",
        json={"ticket": {"comment": {"body": "Which campaign?", "author_id": agent["id"]}}},
    )
    path = f"tickets/{ticket['id']}/comments.json"
    plain = checked(sandbox.api("GET", path))
    assert "users" not in plain
    loaded = checked(sandbox.api("GET", path, params={"include": "users"}))
    assert [c["author_id"] for c in loaded["comments"]] == [ticket["requester_id"], agent["id"]]
    roles = {u["id"]: u["role"] for u in loaded["users"]}
    assert roles == {ticket["requester_id"]: "admin", agent["id"]: "agent"}  # the API user asked


def test_status_sets_the_default_custom_status_of_its_category(sandbox: SandboxHandle) -> None:
    ids = statuses(sandbox)
    ticket = create(sandbox)
    assert ticket["custom_status_id"] == ids["new"]
    updated = sandbox.api(
        "PUT", f"tickets/{ticket['id']}.json", json={"ticket": {"status": "pending"}}
    ).json()
    assert updated["ticket"]["custom_status_id"] == ids["pending"]


def test_custom_status_id_sets_status_to_its_category(sandbox: SandboxHandle) -> None:
    made = sandbox.api(
        "POST",
        "custom_statuses.json",
        json={
            "custom_status": {"status_category": "pending", "agent_label": "Awaiting your reply"}
        },
    ).json()["custom_status"]
    ticket = create(sandbox)
    updated = sandbox.api(
        "PUT", f"tickets/{ticket['id']}.json", json={"ticket": {"custom_status_id": made["id"]}}
    ).json()["ticket"]
    assert (updated["status"], updated["custom_status_id"]) == ("pending", made["id"])
    # Setting the same category again keeps the specific custom status.
    again = sandbox.api(
        "PUT", f"tickets/{ticket['id']}.json", json={"ticket": {"status": "pending"}}
    ).json()
    assert again["ticket"]["custom_status_id"] == made["id"]


def test_unknown_custom_status_is_422(sandbox: SandboxHandle) -> None:
    ticket = create(sandbox)
    response = sandbox.api(
        "PUT", f"tickets/{ticket['id']}.json", json={"ticket": {"custom_status_id": 1}}
    )
    assert response.status_code == 422
    assert response.json()["error"] == "RecordInvalid"
    assert sandbox.api("GET", f"tickets/{ticket['id']}.json").json()["ticket"]["status"] == "new"


@pytest.mark.parametrize("status", ["pending", "hold", "solved"])
@pytest.mark.parametrize("who", ["requester", "cc", "follower"])
@pytest.mark.parametrize("public", [True, False])
def test_end_user_comment_reopens(
    sandbox: SandboxHandle, status: str, who: str, public: bool
) -> None:
    """Zendesk: an end user's comment (the requester's, a CC's or a follower's; public or
    private, as a CC's e-mail reply can arrive) takes a pending, on-hold or solved ticket to
    Open, with the open category's default custom status."""
    requester = make_user(sandbox)
    other = make_user(sandbox, "end-user", "Casey CC")
    people = {"cc": {"email_cc_ids": [other["id"]]}, "follower": {"follower_ids": [other["id"]]}}
    ticket = create(sandbox, requester_id=requester["id"], status=status, **people.get(who, {}))
    author = requester["id"] if who == "requester" else other["id"]
    updated = sandbox.api(
        "PUT",
        f"tickets/{ticket['id']}.json",
        json={
            "ticket": {"comment": {"body": "Still broken", "author_id": author, "public": public}}
        },
    ).json()["ticket"]
    assert updated["status"] == "open"
    assert updated["custom_status_id"] == statuses(sandbox)["open"]


def test_agent_comment_does_not_reopen_and_a_given_status_wins(sandbox: SandboxHandle) -> None:
    requester = make_user(sandbox)
    agent = make_user(sandbox, "agent", "Dana Agent")
    ticket = create(sandbox, requester_id=requester["id"], status="pending")
    for author, public in ((agent["id"], True), (agent["id"], False)):
        updated = sandbox.api(
            "PUT",
            f"tickets/{ticket['id']}.json",
            json={"ticket": {"comment": {"body": "note", "public": public, "author_id": author}}},
        ).json()["ticket"]
        assert updated["status"] == "pending"
    kept = sandbox.api(
        "PUT",
        f"tickets/{ticket['id']}.json",
        json={
            "ticket": {
                "status": "pending",
                "comment": {"body": "one more thing", "author_id": requester["id"]},
            }
        },
    ).json()["ticket"]
    assert kept["status"] == "pending"


@pytest.mark.parametrize(
    "update",
    [{"tags": ["triaged"]}, {"priority": "high"}, {"comment": {"body": "On it", "public": False}}],
)
def test_agent_update_on_new_opens_unless_it_sets_a_status(
    sandbox: SandboxHandle, update: dict[str, Any]
) -> None:
    """Zendesk: an agent's update to a New ticket makes it Open, unless the update sets the
    status (a requester's own update leaves it New)."""
    requester = make_user(sandbox)
    ticket = create(sandbox, requester_id=requester["id"])
    new_status = statuses(sandbox)["new"]
    kept = sandbox.api(
        "PUT",
        f"tickets/{ticket['id']}.json",
        json={"ticket": {**update, "custom_status_id": new_status}},
    ).json()["ticket"]
    assert kept["status"] == "new"
    by_requester = sandbox.api(
        "PUT",
        f"tickets/{ticket['id']}.json",
        json={"ticket": {"comment": {"body": "more detail", "author_id": requester["id"]}}},
    ).json()["ticket"]
    assert by_requester["status"] == "new"
    opened = sandbox.api("PUT", f"tickets/{ticket['id']}.json", json={"ticket": update}).json()
    assert opened["ticket"]["status"] == "open"
    assert opened["ticket"]["custom_status_id"] == statuses(sandbox)["open"]


def test_closed_ticket_cannot_be_updated(sandbox: SandboxHandle) -> None:
    ticket = create(sandbox, status="closed")
    response = sandbox.api("PUT", f"tickets/{ticket['id']}.json", json={"ticket": {"subject": "x"}})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "RecordInvalid"
    assert body["details"]["status"][0]["description"] == errors.CLOSED_PREVENTS_UPDATE


def test_safe_update_with_stale_stamp_is_409_and_changes_nothing(sandbox: SandboxHandle) -> None:
    ticket = create(sandbox)
    stamp = ticket["updated_at"]
    first = sandbox.api(
        "PUT",
        f"tickets/{ticket['id']}.json",
        json={"ticket": {"priority": "high", "safe_update": True, "updated_stamp": stamp}},
    )
    assert first.status_code == 200
    assert first.json()["ticket"]["updated_at"] != stamp
    stale = sandbox.api(
        "PUT",
        f"tickets/{ticket['id']}.json",
        json={"ticket": {"priority": "low", "safe_update": True, "updated_stamp": stamp}},
    )
    assert stale.status_code == 409
    assert stale.json() == {
        "error": "UpdateConflict",
        "description": errors.UPDATE_CONFLICT_DESCRIPTION,
    }
    assert sandbox.api("GET", f"tickets/{ticket['id']}.json").json()["ticket"]["priority"] == "high"


def test_tags_add_remove_and_replace(sandbox: SandboxHandle) -> None:
    ticket = create(sandbox, tags=["Prisma", "urgent_client"])
    assert ticket["tags"] == ["prisma", "urgent_client"]
    url = f"tickets/{ticket['id']}.json"
    added = sandbox.api("PUT", url, json={"ticket": {"additional_tags": ["vip"]}}).json()["ticket"]
    assert added["tags"] == ["prisma", "urgent_client", "vip"]
    removed = sandbox.api("PUT", url, json={"ticket": {"remove_tags": ["prisma"]}}).json()["ticket"]
    assert removed["tags"] == ["urgent_client", "vip"]
    replaced = sandbox.api("PUT", url, json={"ticket": {"tags": ["one"]}}).json()["ticket"]
    assert replaced["tags"] == ["one"]


def test_users_organizations_and_groups_crud_match_the_oas(
    sandbox: SandboxHandle, checked: Checked
) -> None:
    org = checked(
        sandbox.api(
            "POST", "organizations.json", json={"organization": {"name": "Northlight Media"}}
        )
    )
    group = checked(sandbox.api("POST", "groups.json", json={"group": {"name": "Finance"}}))
    user = checked(
        sandbox.api(
            "POST",
            "users.json",
            json={
                "user": {
                    "name": "Ana",
                    "email": "ana@northlight.example",
                    "organization_id": org["organization"]["id"],
                }
            },
        )
    )["user"]
    assert user["role"] == "end-user"
    checked(sandbox.api("GET", f"users/{user['id']}.json"))
    updated = checked(
        sandbox.api("PUT", f"users/{user['id']}.json", json={"user": {"name": "Ana B"}})
    )
    assert updated["user"]["name"] == "Ana B"
    checked(sandbox.api("GET", f"users/show_many.json?ids={user['id']}"))
    checked(sandbox.api("GET", "users.json"))
    checked(sandbox.api("GET", "organizations.json"))
    checked(sandbox.api("GET", f"organizations/{org['organization']['id']}.json"))
    checked(sandbox.api("GET", f"organizations/show_many.json?ids={org['organization']['id']}"))
    checked(sandbox.api("GET", "groups.json"))
    renamed = checked(
        sandbox.api("PUT", f"groups/{group['group']['id']}.json", json={"group": {"name": "Fin"}})
    )
    assert renamed["group"]["name"] == "Fin"
    duplicate = sandbox.api(
        "POST", "users.json", json={"user": {"name": "X", "email": "ana@northlight.example"}}
    )
    assert duplicate.status_code == 422


def test_ticket_requester_org_defaults_to_the_requesters(sandbox: SandboxHandle) -> None:
    org = sandbox.api(
        "POST", "organizations.json", json={"organization": {"name": "Agency"}}
    ).json()
    org_id = org["organization"]["id"]
    user = sandbox.api(
        "POST",
        "users.json",
        json={"user": {"name": "B", "email": "b@a.example", "organization_id": org_id}},
    ).json()["user"]
    assert create(sandbox, requester_id=user["id"])["organization_id"] == org_id


def test_zenpy_creates_updates_and_reads_comments(
    sandbox_zenpy: Any, sandbox: SandboxHandle
) -> None:
    created = sandbox_zenpy.tickets.create(
        Ticket(subject="Spot schedule", description="Twelve spots missing")
    )
    ticket = created.ticket
    ticket.status = "pending"
    ticket.comment = Comment(body="Could you send the affidavit?", public=True)
    updated = sandbox_zenpy.tickets.update(ticket).ticket
    assert updated.status == "pending"
    comments = [c.body for c in sandbox_zenpy.tickets.comments(ticket=ticket.id)]
    assert comments == ["Twelve spots missing", "Could you send the affidavit?"]
    assert sandbox.stats()["endpoints"]["PUT /api/v2/tickets/<int:ticket_id>"] == 1


def test_zenpy_surfaces_409_as_api_exception(sandbox_zenpy: Any, sandbox: SandboxHandle) -> None:
    ticket = create(sandbox)
    sandbox.api("PUT", f"tickets/{ticket['id']}.json", json={"ticket": {"priority": "high"}})
    stale = Ticket(
        id=ticket["id"], priority="low", safe_update=True, updated_stamp=ticket["updated_at"]
    )
    with pytest.raises(APIException, match="UpdateConflict"):
        sandbox_zenpy.tickets.update(stale)


def test_zenpy_paginates_lists_across_pages(sandbox_zenpy: Any, sandbox: SandboxHandle) -> None:
    sandbox.seed(size=130, random_seed=3)
    assert len(list(sandbox_zenpy.tickets())) == 130


def test_zenpy_works_with_force_netloc_env_vars(
    monkeypatch: pytest.MonkeyPatch, sandbox: SandboxHandle
) -> None:
    from zenpy import Zenpy

    monkeypatch.setenv("ZENPY_FORCE_NETLOC", sandbox.netloc)
    monkeypatch.setenv("ZENPY_FORCE_SCHEME", "http")
    client = Zenpy(subdomain=sandbox.subdomain, email=sandbox.email, token=sandbox.token)
    assert client.users.me().email == sandbox.email
    sandbox.seed(size=120, random_seed=4)
    assert len(list(client.tickets())) == 120


def test_email_ccs_put_and_delete(sandbox: SandboxHandle) -> None:
    cc = make_user(sandbox, name="Casey Cc")
    ticket = create(sandbox)
    url = f"tickets/{ticket['id']}.json"
    added = sandbox.api(
        "PUT",
        url,
        json={
            "ticket": {
                "email_ccs": [
                    {"user_id": cc["id"], "action": "put"},
                    {"user_email": "new.cc@agency.example"},
                ]
            }
        },
    ).json()["ticket"]
    assert added["email_cc_ids"][0] == cc["id"]
    assert len(added["email_cc_ids"]) == 2
    removed = sandbox.api(
        "PUT", url, json={"ticket": {"email_ccs": [{"user_id": cc["id"], "action": "delete"}]}}
    ).json()
    assert cc["id"] not in removed["ticket"]["email_cc_ids"]


def test_on_behalf_of_lets_a_requester_reply_and_reopen(sandbox: SandboxHandle) -> None:
    requester = make_user(sandbox)
    ticket = create(sandbox, requester_id=requester["id"], status="pending")
    response = requests.put(
        f"{sandbox.base_url}/api/v2/tickets/{ticket['id']}.json",
        json={"ticket": {"comment": {"body": "Here is the screenshot"}}},
        headers={
            "Authorization": f"Bearer {sandbox.oauth_token}",
            "X-On-Behalf-Of": requester["email"],
        },
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["ticket"]["status"] == "open"
    assert response.json()["audit"]["author_id"] == requester["id"]


def test_closing_keeps_a_solved_custom_status(sandbox: SandboxHandle) -> None:
    ticket = create(sandbox, status="pending")
    closed = sandbox.api(
        "PUT", f"tickets/{ticket['id']}.json", json={"ticket": {"status": "closed"}}
    ).json()
    assert closed["ticket"]["custom_status_id"] == statuses(sandbox)["solved"]


BAD_INPUTS = [
    ("POST", "tickets.json", {"ticket": {"comment": [1, 2]}}),
    ("POST", "tickets.json", {"ticket": {"comment": {"body": "x"}, "tags": 5}}),
    ("POST", "tickets.json", {"ticket": {"comment": {"body": "x"}, "requester_id": "abc"}}),
    ("POST", "tickets.json", {"ticket": "not an object"}),
    ("PUT", "tickets/{id}.json", {"ticket": {"status": "bogus"}}),
    ("PUT", "tickets/{id}.json", {"ticket": {"comment": {"body": "x", "created_at": "yesterday"}}}),
    ("PUT", "tickets/{id}.json", {"ticket": {"custom_fields": [{"id": 999, "value": "x"}]}}),
    ("PUT", "tickets/{id}.json", {"ticket": {"priority": "high", "assignee_id": 424242}}),
    ("PUT", "tickets/{id}.json", {"ticket": {"email_ccs": "someone"}}),
    ("PUT", "tickets/update_many.json", {"tickets": "x"}),
    (
        "POST",
        "imports/tickets.json",
        {"ticket": {"created_at": "bad", "comments": [{"body": "x"}]}},
    ),
    (
        "POST",
        "triggers.json",
        {"trigger": {"title": "t", "conditions": {"all": [1]}, "actions": []}},
    ),
    ("POST", "users.json", {"user": {"name": ["n"]}}),
]


@pytest.mark.parametrize(("method", "path", "payload"), BAD_INPUTS)
def test_bad_input_is_a_clear_4xx_and_changes_nothing(
    sandbox: SandboxHandle, method: str, path: str, payload: Any
) -> None:
    ticket = create(sandbox)
    response = sandbox.api(method, path.format(id=ticket["id"]), json=payload)
    assert 400 <= response.status_code < 500
    body = response.json()
    assert body["error"] in ("RecordInvalid", "InvalidValue")
    assert "Invalid request" not in (body.get("description") or "")  # a check, not the catch-all
    assert sandbox.api("GET", f"tickets/{ticket['id']}.json").json()["ticket"] == ticket
    assert (
        sandbox.api("GET", "search/count.json", params={"query": "type:ticket"}).json()["count"]
        == 1
    )


def test_a_ticket_cannot_go_back_to_new(sandbox: SandboxHandle) -> None:
    ticket = create(sandbox, status="open")
    response = sandbox.api(
        "PUT", f"tickets/{ticket['id']}.json", json={"ticket": {"status": "new"}}
    )
    assert response.status_code == 422
    assert response.json()["details"]["status"][0]["description"] == errors.BACK_TO_NEW


def test_rejected_updates_do_not_use_the_per_ticket_budget(sandbox: SandboxHandle) -> None:
    sandbox.set_limits(ticket_update_limit=2)
    ticket = create(sandbox)
    url = f"tickets/{ticket['id']}.json"
    for _ in range(3):
        assert sandbox.api("PUT", url, json={"ticket": {"status": "bogus"}}).status_code == 422
    assert [
        sandbox.api("PUT", url, json={"ticket": {"priority": "low"}}).status_code for _ in range(3)
    ] == [200, 200, 429]
