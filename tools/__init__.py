"""Deterministic tools over the model-serving platform: read-only checks and gated mutations."""
