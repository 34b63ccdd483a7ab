"""The embedded demo that `make run` starts: the Zendesk sandbox with a seeded account, the
migrations and provisioning applied to it, and the service on top (see `demo/launcher.py`)."""
