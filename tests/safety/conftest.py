"""The attacks run against real processes: reuse the integration tests' served sandbox."""

from tests.integration.conftest import served_sandbox

__all__ = ["served_sandbox"]
