"""Read-only tools: each answers one question of a runbook with typed evidence.

``tools/catalog.py`` lists them; importing this package registers nothing.
"""
