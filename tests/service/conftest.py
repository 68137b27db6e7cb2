"""The service tests reuse the agent fixtures (database on SQLite and PostgreSQL, sandbox)."""

from tests.agent.conftest import database_url, open_incident_app, settings

__all__ = ["database_url", "open_incident_app", "settings"]
