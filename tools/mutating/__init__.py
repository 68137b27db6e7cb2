"""Mutating tools: every change is declarative, dry-run by default, keyed by an idempotency key."""

from tools.mutating import gateway, rollback, serving

__all__ = ["gateway", "rollback", "serving"]
