"""Who is looking: Zendesk's signed app JWT on the first load, then a short-lived session.

Zendesk loads a server-side app whose manifest says `signedUrls: true` with a POST to the
app's URL carrying a JWT in the form field `token`, signed RS256 with the app's private key
("Authenticating Zendesk in your server-side app"; "Building a server-side app, part 5").
cxlayer verifies it with the app's public key (`GET /api/v2/apps/{app_id}/public_key.pem`,
read back by `sidebar install`) and checks:

- `iss`: the account, `<subdomain>.zendesk.com` (also accepted with `https://`: both name
  the same account and only its key signs);
- `aud`: the installation, `https://<subdomain>.zendesk.com/api/v2/apps/installations/<id>.json`
  (the tutorial decodes with "the app's public key and installation id");
- `exp` (required, a small leeway for clock skew) and `iat`;
- `sub`: the Zendesk user, its API URL `https://<subdomain>.zendesk.com/api/v2/users/<id>.json`
  on this account (a bare user id is accepted too); the caller then confirms the user is an
  agent or admin (an end user's token is refused).

Sources and what could not be checked word for word: sandbox/README.md, "Signed app loads".

Any failure is `Unauthorized` (the views answer 401 and nothing else). The page then uses a
session token (itsdangerous, signed with `CXLAYER_SIDEBAR_SECRET`) bound to the agent and the
account, and for writes to one ticket as well; it expires after `[sidebar] session_minutes`.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

import jwt
from itsdangerous import BadSignature, URLSafeTimedSerializer

ALGORITHM = "RS256"
LEEWAY_SECONDS = 30
SESSION_SALT = "cxlayer.sidebar.session"
_USER_URL = re.compile(r"^https://([^/]+)/api/v2/users/(\d+)(?:\.json)?$")


class Unauthorized(Exception):
    """The request does not prove an agent of this account; the message is for logs only."""


@dataclass(frozen=True)
class AppIdentity:
    """What the verified JWT says: the Zendesk user and the account and installation."""

    user_id: int
    account: str  # the subdomain
    installation_id: int


def issuer(subdomain: str) -> str:
    """The `iss` Zendesk writes: the account's host name."""
    return f"{subdomain}.zendesk.com"


def accepted_issuers(subdomain: str) -> list[str]:
    """`iss` values that name this account: the host name, and the same with `https://`."""
    return [issuer(subdomain), f"https://{issuer(subdomain)}"]


def user_id_of(subject: object, subdomain: str) -> int | None:
    """The user id in `sub`: the user's API URL on this account, or a bare id; None else."""
    text = str(subject or "")
    if text.isdigit():
        return int(text)
    match = _USER_URL.match(text)
    if match is None or match.group(1) != issuer(subdomain):
        return None
    return int(match.group(2))


def audience(subdomain: str, installation_id: int) -> str:
    """The `aud` Zendesk writes: the app installation's API URL on the account."""
    return f"https://{subdomain}.zendesk.com/api/v2/apps/installations/{installation_id}.json"


def verify_app_token(
    token: str, *, public_key_pem: str, subdomain: str, installation_id: int
) -> AppIdentity:
    """Verify a ZAF JWT (signature, issuer, audience, expiry) and return who it names.

    Raises `Unauthorized` for anything else: unsigned (`alg: none`), another key, expired,
    another account or installation, no user.
    """
    if not token or not public_key_pem:
        raise Unauthorized("no token" if not token else "no public key recorded for the app")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            public_key_pem,
            algorithms=[ALGORITHM],
            audience=audience(subdomain, installation_id),
            issuer=accepted_issuers(subdomain),
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized(f"invalid app token: {exc}") from None
    user_id = user_id_of(claims.get("sub"), subdomain)
    if user_id is None:
        raise Unauthorized("the token names no Zendesk user of this account")
    return AppIdentity(user_id, subdomain, installation_id)


@dataclass(frozen=True)
class Session:
    """A sidebar session: the agent, the account, and (for writes) the ticket."""

    agent_id: int
    agent_name: str
    account: str
    ticket_id: int | None = None


class Sessions:
    """Signs and reads session tokens; `secret` empty means a random key for this process."""

    def __init__(self, secret: str, max_age_seconds: int) -> None:
        self._serializer = URLSafeTimedSerializer(
            secret or secrets.token_urlsafe(32), salt=SESSION_SALT
        )
        self.max_age_seconds = max_age_seconds

    def issue(self, session: Session) -> str:
        return self._serializer.dumps(
            {
                "a": session.agent_id,
                "n": session.agent_name,
                "c": session.account,
                "t": session.ticket_id,
            }
        )

    def read(self, token: str, *, account: str, ticket_id: int | None = None) -> Session:
        """The session in `token`; `Unauthorized` when forged, expired, for another account,
        or (with `ticket_id`) bound to another ticket."""
        try:
            data = self._serializer.loads(token, max_age=self.max_age_seconds)
        except BadSignature as exc:  # SignatureExpired is a BadSignature
            raise Unauthorized(f"invalid session: {exc}") from None
        if not isinstance(data, dict) or data.get("c") != account:
            raise Unauthorized("session of another account")
        session = Session(int(data["a"]), str(data.get("n") or ""), account, data.get("t"))
        if ticket_id is not None and session.ticket_id != ticket_id:
            raise Unauthorized("session bound to another ticket")
        return session
