"""The Apps API: upload, build, install (or update) a private app, and read its public key.

Zendesk's documented sequence ("Creating and managing private apps with the Zendesk API"):
Upload App Package (`POST /api/v2/apps/uploads`, multipart `uploaded_data`) → Create App
(`POST /api/v2/apps` with the `upload_id`) or Update App (`PUT /api/v2/apps/{app_id}`) → poll
Get Job Status (`GET /api/v2/apps/job_statuses/{job_id}`) until `completed` (or `failed`) →
Create/Update App Installation (`/api/v2/apps/installations`). A signed-URL app's public key
is `GET /api/v2/apps/{app_id}/public_key.pem`.

`install_app` is idempotent: the app is found among the account's owned apps by name, the
package is uploaded again only when its bytes changed (their SHA-256 is remembered in the
state store), the installation is created once and its settings updated only when they
differ. A second run makes no write.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sync.client import ZendeskClient, _error_from_response
from sync.http import ZendeskError

APP_STATE = "zendesk.sidebar_app"  # {"app_id", "installation_id", "public_key", "package_sha256"}
JOB_TIMEOUT_SECONDS = 120.0


@dataclass
class InstallReport:
    """What `install_app` did (`changes` empty: nothing to do) and what it recorded."""

    app_id: int
    installation_id: int
    public_key: str
    changes: list[str] = field(default_factory=list)

    def render(self) -> str:
        head = "\n".join(f"  {c}" for c in self.changes) if self.changes else "  no changes"
        return f"sidebar app {self.app_id}, installation {self.installation_id}:\n{head}"


def _raw(client: ZendeskClient, method: str, path: str, **kwargs: Any) -> Any:
    response = client.session.request(method, client.origin + path, **kwargs)
    if response.status_code >= 400:
        raise _error_from_response(response)
    return response


def upload_package(client: ZendeskClient, zipped: bytes) -> int:
    """Upload App Package: the upload's id."""
    response = _raw(
        client,
        "POST",
        "/api/v2/apps/uploads.json",
        files={"uploaded_data": ("app.zip", zipped, "application/zip")},
    )
    return int(response.json()["id"])


def wait_for_job(
    client: ZendeskClient, job_id: str, timeout: float = JOB_TIMEOUT_SECONDS
) -> dict[str, Any]:
    """Poll an app build job until it completes; ZendeskError when it fails or times out."""
    deadline = time.monotonic() + timeout
    delay = client.poll_initial_seconds
    while True:
        job = client.call("GET", f"/api/v2/apps/job_statuses/{job_id}.json")
        status = job.get("status")
        if status == "completed":
            return dict(job)
        if status == "failed":
            raise ZendeskError(f"app build failed: {job.get('message')}")
        if time.monotonic() > deadline:
            raise ZendeskError(f"app build job {job_id} did not finish in {timeout:.0f} s")
        time.sleep(delay)
        delay = min(delay * 2, client.poll_max_seconds)


def public_key(client: ZendeskClient, app_id: int) -> str:
    """The app's public key (PEM) that verifies its signed-URL JWTs."""
    return str(_raw(client, "GET", f"/api/v2/apps/{app_id}/public_key.pem").text)


def install_app(
    client: ZendeskClient,
    zipped: bytes,
    *,
    name: str,
    short_description: str,
    settings: Mapping[str, Any],
) -> InstallReport:
    """Create or update the app `name` from `zipped` and install it with `settings`."""
    digest = hashlib.sha256(zipped).hexdigest()
    recorded = client.state.get(APP_STATE) or {}
    changes: list[str] = []
    owned = client.call("GET", "/api/v2/apps/owned.json").get("apps") or []
    app = next((a for a in owned if a.get("name") == name), None)
    if app is None:
        upload_id = upload_package(client, zipped)
        job = client.call(
            "POST",
            "/api/v2/apps.json",
            body={"name": name, "short_description": short_description, "upload_id": upload_id},
        )
        app_id = int(wait_for_job(client, str(job["job_id"]))["app_id"])
        changes.append(f"created app {name!r} ({app_id})")
    else:
        app_id = int(app["id"])
        if recorded.get("app_id") != app_id or recorded.get("package_sha256") != digest:
            upload_id = upload_package(client, zipped)
            job = client.call("PUT", f"/api/v2/apps/{app_id}.json", body={"upload_id": upload_id})
            wait_for_job(client, str(job["job_id"]))
            changes.append(f"updated app {name!r} ({app_id}) with a new package")
    installations = client.call("GET", "/api/v2/apps/installations.json").get("installations") or []
    installation = next((i for i in installations if int(i.get("app_id", 0)) == app_id), None)
    wanted = {"name": name, **settings}
    if installation is None:
        installation = client.call(
            "POST",
            "/api/v2/apps/installations.json",
            body={"app_id": app_id, "settings": wanted},
        )
        changes.append(f"installed app {app_id}")
    else:
        current = installation.get("settings") or {}
        if any(current.get(k) != v for k, v in wanted.items()) or not installation.get("enabled"):
            installation = client.call(
                "PUT",
                f"/api/v2/apps/installations/{installation['id']}.json",
                body={"settings": wanted, "enabled": True},
            )
            changes.append(f"updated installation {installation['id']} settings")
    installation_id = int(installation["id"])
    key = public_key(client, app_id)
    client.state.set(
        APP_STATE,
        {
            "app_id": app_id,
            "installation_id": installation_id,
            "public_key": key,
            "package_sha256": digest,
        },
    )
    return InstallReport(app_id, installation_id, key, changes)
