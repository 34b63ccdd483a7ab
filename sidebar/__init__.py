"""The agent sidebar: a Zendesk server-side app (ticket_sidebar, signed URLs) served by
cxlayer, showing the support guide's rules on the ticket before the agent acts.

`flask --app app sidebar package` builds the zip Zendesk accepts; `sidebar install` (or
`zendesk apply --with-sidebar`) uploads and installs it through the Apps API and records the
app's public key; `/sidebar/` is the page Zendesk loads (see `sidebar.views`).
"""

from __future__ import annotations

from flask import Flask

from sidebar import cli
from sidebar.views import init_views


def init_app(app: Flask) -> None:
    """The sidebar's endpoints and its commands."""
    init_views(app)
    cli.register(app)
