"""Mutating tools: every change is declarative, dry-run by default, keyed by an idempotency key.

``tools/catalog.py`` lists them; importing this package registers nothing.
"""
