"""Database fixtures (SQLite, or PostgreSQL with CXLAYER_TEST_DATABASE_URL)."""

from store.testing import db_app, make_db_app, test_database_url

__all__ = ["db_app", "make_db_app", "test_database_url"]
