"""A local, stateful Zendesk Support API: the embedded backend for the demo, tests and benchmarks."""

from __future__ import annotations

from sandbox.account import ADMIN_EMAIL, API_TOKEN, OAUTH_TOKEN, SUBDOMAIN

__all__ = ["ADMIN_EMAIL", "API_TOKEN", "OAUTH_TOKEN", "SUBDOMAIN"]
