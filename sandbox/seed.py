"""Deterministic, realistic Mediaocean-like demo account: teams, agencies, support conversations.

Tickets are written with bulk inserts (not through the API) so 100,000 fit in well under a
minute; the documents have exactly the shape `Account.create_ticket` produces."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from sandbox.account import VIA_API, Account
from sandbox.store import dumps, iso

DEMO_SIZE = 300
VIA_JSON = dumps(VIA_API)
DAY = 86400

GROUPS = ("All Media", "Prod", "Tech", "Finance", "Canadian Spot", "Account Management")
AGENT_NAMES = (
    "Priya Raman",
    "Marcus Ellison",
    "Dana Whitfield",
    "Luis Ortega",
    "Hannah Brooks",
    "Kenji Watanabe",
    "Sofia Marchetti",
    "Owen Gallagher",
    "Aisha Bello",
    "Tomás Herrera",
    "Claire Dubois",
    "Nathan Cole",
    "Ingrid Larsen",
    "Rafael Souza",
    "Megan O'Neill",
    "Victor Nguyen",
    "Elena Petrova",
    "Jamal Carter",
)
AGENCIES = (
    ("Northlight Media", "northlightmedia.com"),
    ("Brightwater Agency", "brightwater.co"),
    ("Maple & Finch Communications", "maplefinch.ca"),
    ("Harbor Street Partners", "harborstreet.com"),
    ("Summit Reach Media", "summitreach.com"),
    ("Red Cedar Advertising", "redcedar.ca"),
    ("Bluepeak Digital", "bluepeak.io"),
    ("Orchard Lane Media Group", "orchardlane.com"),
    ("Granite Coast Agency", "granitecoast.com"),
    ("Lakeshore Broadcast Buying", "lakeshorebuying.ca"),
)
FIRST = (
    "Alex",
    "Jordan",
    "Taylor",
    "Morgan",
    "Casey",
    "Riley",
    "Jamie",
    "Avery",
    "Quinn",
    "Sam",
    "Emily",
    "Daniel",
    "Grace",
    "Michael",
    "Olivia",
    "Noah",
    "Chloe",
    "Ethan",
    "Zoe",
    "Liam",
)
LAST = (
    "Kim",
    "Patel",
    "Smith",
    "Garcia",
    "Chen",
    "Müller",
    "Brown",
    "Wilson",
    "Tremblay",
    "Roy",
    "Martin",
    "Lee",
    "Clark",
    "Lewis",
    "Walker",
    "Young",
    "Hall",
    "Allen",
    "King",
    "Wright",
)

# (group, subject, opening message, agent questions, requester answers, fixes)
TOPICS: tuple[tuple[str, str, str], ...] = (
    (
        "All Media",
        "Prisma campaign not showing in Buy Sheet",
        "Hi team, the campaign I created this morning in Prisma isn't showing up in the Buy Sheet. I've refreshed and logged out and back in. Can you take a look?",
    ),
    (
        "All Media",
        "Unable to send IO to vendor",
        "When I try to send the insertion order to the vendor I get 'Unable to send order - contact missing'. The vendor contact is definitely on the supplier record.",
    ),
    (
        "All Media",
        "Placement dates shifted after import",
        "After importing our placements from the planning spreadsheet, all of the flight dates moved forward by one day. This affects about 40 placements.",
    ),
    (
        "Prod",
        "Prisma is very slow loading campaigns",
        "Since this morning Prisma takes over a minute to open any campaign. Several people on my team are seeing the same thing.",
    ),
    (
        "Prod",
        "Error 500 when approving invoices",
        "Every time I click Approve on a matched invoice I get an error page saying 'Something went wrong (500)'.",
    ),
    (
        "Tech",
        "SSO login loop",
        "Our users are stuck in a login loop with single sign-on: after entering credentials it goes back to the login page.",
    ),
    (
        "Tech",
        "API export missing columns",
        "The nightly API export we pull into our data warehouse stopped including the 'Net Cost' and 'Vendor Code' columns.",
    ),
    (
        "Finance",
        "Invoice not matching to order",
        "Invoice INV-20931 from the publisher won't match to the order even though the amounts are identical. It stays in 'Unmatched'.",
    ),
    (
        "Finance",
        "Duplicate payment showing on client statement",
        "Our client statement shows the same payment twice for last month's broadcast flight. Can you check whether it was posted twice?",
    ),
    (
        "Canadian Spot",
        "Spot schedule not reconciling with station affidavit",
        "The station affidavit for CFTO doesn't reconcile with our schedule: 12 spots show as missing even though the station says they aired.",
    ),
    (
        "Canadian Spot",
        "French-language station missing from market list",
        "We can't find the French-language station we buy in Montréal in the market list when building the Canadian spot buy.",
    ),
    (
        "Account Management",
        "Request for a custom delivery report",
        "Our client wants a weekly delivery report broken out by region. Is this something your team can set up for us?",
    ),
    (
        "Account Management",
        "Enhancement: bulk edit of placement names",
        "It would save us hours if we could bulk edit placement names. Is this on the roadmap?",
    ),
)
AGENT_ASKS = (
    "Thanks for reaching out. Could you send the campaign ID and a screenshot of what you're seeing?",
    "Thank you for the details. Can you confirm which browser you're using and whether this happens for all users?",
    "We're looking into this. Could you share the exact time you last saw the error so we can check the logs?",
    "Thanks! To reproduce, could you tell us the order number and the vendor involved?",
    "Could you confirm whether this started after yesterday's release or before it?",
)
REQUESTER_REPLIES = (
    "Sure, the campaign ID is {n}. Screenshot attached.",
    "We're on Chrome, and yes, it's happening for everyone on the team.",
    "It last happened around 10:15 ET this morning.",
    "The order is {n}; vendor is the regional publisher we always use.",
    "I believe it started after the release; it was fine on Friday.",
    "Any update on this? Our client is asking.",
)
AGENT_FIXES = (
    "We found the cause and applied a data fix. Please refresh and let us know if it looks right now.",
    "A workaround is in place: re-sending the order from the Orders tab works while we finish the root cause analysis.",
    "This was a configuration issue on the supplier record, which we've corrected. You should be all set.",
    "Our development team deployed a fix last night. Could you confirm it's resolved on your side?",
    "I've explained the setting in the attached guide; changing 'Default flight start' resolves it.",
)
REQUESTER_THANKS = (
    "That fixed it, thank you!",
    "Confirmed, it's working now. Thanks for the quick help.",
    "Thanks, all good on our end.",
)


@dataclass
class _Ids:
    ticket: int
    comment: int
    audit: int
    event: int


def _name(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)} {rng.choice(LAST)}"


def seed_account(account: Account, size: int, random_seed: int) -> dict[str, Any]:
    """Create teams, agencies and `size` tickets with conversations. Same seed → same account."""
    rng = random.Random(random_seed)
    store = account.store
    now = store.now()
    statuses = {s["status_category"]: s["id"] for s in store.all("custom_status") if s["default"]}

    groups: dict[str, int] = {}
    for name in GROUPS:
        existing = [g for g in store.all("group") if g["name"] == name]
        groups[name] = (
            existing[0]["id"] if existing else account.create_named("group", {"name": name})["id"]
        )
    agents: dict[str, list[int]] = {name: [] for name in GROUPS}
    for index, name in enumerate(AGENT_NAMES):
        group = GROUPS[index % len(GROUPS)]
        email = (
            name.lower().replace(" ", ".").replace("'", "").replace("á", "a")
            + "@mediaocean.example"
        )
        user = store.user_by_email(email) or account.create_user(
            {
                "name": name,
                "email": email,
                "role": "agent",
                "default_group_id": groups[group],
                "_group_ids": [groups[group]],
            }
        )
        agents[group].append(int(user["id"]))
    orgs: list[int] = []
    requesters: list[tuple[int, int]] = []
    for org_name, domain in AGENCIES:
        found = [o for o in store.all("organization") if o["name"] == org_name]
        org = (
            found[0]
            if found
            else account.create_named("organization", {"name": org_name, "domain_names": [domain]})
        )
        orgs.append(int(org["id"]))
        for n in range(4):
            person = _name(rng)
            email = person.lower().replace(" ", ".").replace("ü", "u") + f"{n}@{domain}"
            user = store.user_by_email(email) or account.create_user(
                {"name": person, "email": email, "role": "end-user", "organization_id": org["id"]}
            )
            requesters.append((int(user["id"]), int(org["id"])))

    with store.tx():
        ids = _Ids(
            store.next_id("ticket", size),
            store.next_id("comment", size * 12),
            store.next_id("audit", size * 12),
            store.next_id("event", size * 12),
        )
        rows_t: list[tuple[Any, ...]] = []
        rows_c: list[tuple[Any, ...]] = []
        rows_a: list[tuple[Any, ...]] = []
        counts: dict[str, int] = {}
        previous: dict[int, tuple[str, str, str]] = {}
        texts: dict[str, tuple[str, str]] = {}
        for n in range(size):
            ticket_id = ids.ticket + n
            requester_id, org_id = rng.choice(requesters)
            group_name, subject, opening = rng.choice(TOPICS)
            # A few requesters open the same issue twice.
            if requester_id in previous and rng.random() < 0.08:
                group_name, subject, opening = previous[requester_id]
            previous[requester_id] = (group_name, subject, opening)
            status = rng.choices(
                ("new", "open", "pending", "hold", "solved", "closed"), (8, 25, 30, 7, 20, 10)
            )[0]
            agent = rng.choice(agents[group_name])
            age_days = rng.choice((0, 1, 2, 3, 5, 7, 10, 14, 21, 30, 45, 60, 90))
            created = now - age_days * DAY - rng.randint(600, DAY - 600)
            convo: list[tuple[int, str, bool, int]] = [(requester_id, opening, True, created)]
            t = created
            if status != "new":
                turns = rng.randint(1, 3)
                for turn in range(turns):
                    t += rng.randint(1800, 6 * 3600)
                    convo.append((agent, rng.choice(AGENT_ASKS), True, t))
                    requester_last_pending = (
                        status == "pending" and turn == turns - 1 and rng.random() < 0.3
                    )
                    if turn < turns - 1 or status in ("open", "hold") or requester_last_pending:
                        t += rng.randint(1800, 12 * 3600)
                        convo.append(
                            (
                                requester_id,
                                rng.choice(REQUESTER_REPLIES).format(n=rng.randint(10000, 99999)),
                                True,
                                t,
                            )
                        )
                if rng.random() < 0.3:
                    t += rng.randint(300, 3600)
                    convo.append(
                        (agent, "Internal: checked logs, escalating to the product team.", False, t)
                    )
                if status in ("solved", "closed"):
                    t += rng.randint(3600, 2 * DAY)
                    convo.append((agent, rng.choice(AGENT_FIXES), True, t))
                    if rng.random() < 0.5:
                        t += rng.randint(600, DAY)
                        convo.append((requester_id, rng.choice(REQUESTER_THANKS), True, t))
            t = min(t, now)
            ccs = [rng.choice(requesters)[0]] if rng.random() < 0.15 else []
            ccs = [c for c in ccs if c != requester_id]
            assignee = None if status == "new" else agent
            doc = {
                "id": ticket_id,
                "external_id": None,
                "via": VIA_API,
                "created_at": iso(created),
                "updated_at": iso(t),
                "generated_timestamp": t,
                "type": rng.choice(("question", "incident", "problem", "task", None)),
                "subject": subject,
                "raw_subject": subject,
                "description": opening,
                "priority": rng.choice(("low", "normal", "normal", "high", "urgent")),
                "status": status,
                "recipient": None,
                "requester_id": requester_id,
                "submitter_id": requester_id,
                "assignee_id": assignee,
                "organization_id": org_id,
                "group_id": groups[group_name],
                "collaborator_ids": ccs,
                "follower_ids": [],
                "email_cc_ids": ccs,
                "forum_topic_id": None,
                "problem_id": None,
                "has_incidents": False,
                "is_public": True,
                "due_at": None,
                "tags": [group_name.lower().replace(" ", "_")],
                "satisfaction_rating": None,
                "sharing_agreement_ids": [],
                "custom_status_id": statuses["solved" if status == "closed" else status],
                "followup_ids": [],
                "ticket_form_id": None,
                "brand_id": None,
                "allow_channelback": False,
                "allow_attachments": True,
                "from_messaging_channel": False,
                "_cf": {},
                "_m": {
                    "reopens": 0,
                    "replies": sum(1 for a, _, p, _ in convo if a == agent and p),
                    "group_stations": 1,
                    "assignee_stations": 1 if assignee else 0,
                    "status_updated_at": iso(t),
                    "custom_status_updated_at": iso(t),
                    "initially_assigned_at": iso(convo[1][3])
                    if assignee and len(convo) > 1
                    else None,
                    "assigned_at": iso(convo[1][3]) if assignee and len(convo) > 1 else None,
                    "assignee_updated_at": None,
                    "requester_updated_at": iso(max(c[3] for c in convo if c[0] == requester_id)),
                    "latest_comment_added_at": iso(convo[-1][3]),
                    "solved_at": iso(t) if status in ("solved", "closed") else None,
                },
            }
            counts[status] = counts.get(status, 0) + 1
            tags = " " + " ".join(doc["tags"]) + " "
            text = (subject + "\n" + opening).lower()
            rows_t.append(
                (
                    ticket_id,
                    created,
                    t,
                    status,
                    doc["custom_status_id"],
                    requester_id,
                    org_id,
                    doc["group_id"],
                    assignee,
                    tags,
                    text,
                    dumps(doc),
                )
            )
            for index, (author, body_text, public, ts) in enumerate(convo):
                comment_id = ids.comment
                audit_id = ids.audit
                ids.comment += 1
                ids.audit += 1
                created_iso = iso(min(ts, now))
                # Comment bodies come from a small phrase set: encode each once, splice the rest
                # (the same document Account._new_comment stores, ~500k of them per 100k tickets).
                encoded = texts.get(body_text)
                if encoded is None:
                    html = f'<div class="zd-comment" dir="auto"><p dir="auto">{body_text}</p></div>'
                    encoded = texts[body_text] = (dumps(body_text), dumps(html))
                comment_json = (
                    f'{{"id":{comment_id},"type":"Comment","author_id":{author},'
                    f'"body":{encoded[0]},"html_body":{encoded[1]},"plain_body":{encoded[0]},'
                    f'"public":{"true" if public else "false"},"attachments":[],'
                    f'"audit_id":{audit_id},"via":{VIA_JSON},'
                    f'"metadata":{{"system":{{}},"custom":{{}}}},"created_at":"{created_iso}"}}'
                )
                rows_c.append((comment_id, ticket_id, min(ts, now), comment_json))
                extra = ""
                if index == 0:
                    for field_name, value in (
                        ("status", "new"),
                        ("subject", subject),
                        ("group_id", doc["group_id"]),
                    ):
                        extra += "," + dumps(
                            {
                                "id": ids.event,
                                "type": "Create",
                                "field_name": field_name,
                                "value": value,
                            }
                        )
                        ids.event += 1
                # The audit embeds the comment: splice its JSON instead of encoding it twice.
                audit_json = (
                    f'{{"id":{audit_id},"ticket_id":{ticket_id},"created_at":"{created_iso}",'
                    f'"author_id":{author},"metadata":{{"system":{{}},"custom":{{}}}},'
                    f'"via":{VIA_JSON},"events":[{comment_json}{extra}]}}'
                )
                rows_a.append((audit_id, ticket_id, min(ts, now), audit_json))
        db = store.db
        db.executemany(
            "INSERT INTO tickets (id, created_ts, updated_ts, status, custom_status_id, requester_id,"
            " organization_id, group_id, assignee_id, tags, text, doc) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            rows_t,
        )
        db.executemany(
            "INSERT INTO comments (id, ticket_id, created_ts, doc) VALUES (?,?,?,?)", rows_c
        )
        db.executemany("INSERT INTO audits (id, ticket_id, ts, doc) VALUES (?,?,?,?)", rows_a)
    return {
        "tickets": size,
        "first_ticket_id": ids.ticket,
        "comments": len(rows_c),
        "statuses": counts,
        "groups": groups,
        "organizations": len(orgs),
        "requesters": len(requesters),
    }
