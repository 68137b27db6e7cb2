"""Secrets never reach the audit log: values under secret-looking keys and token-shaped strings."""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[REDACTED]"

# Words that mark a key as holding a secret. "key" alone is included on purpose: a false positive
# costs a less readable audit row, a false negative leaks a credential into an immutable log.
_SECRET_WORDS = frozenset(
    {"token", "key", "secret", "password", "passwd", "authorization", "credential", "credentials"}
    | {"cookie", "apikey", "pwd"}
)
# Keys that contain a secret word but never hold a secret, and that an audit reader needs.
_NOT_SECRET = frozenset({"idempotency_key", "idempotencykey", "group_key", "groupkey"})

_TOKEN_PATTERNS = [
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]+"),  # Slack bot/user tokens
    re.compile(r"\bxapp-[A-Za-z0-9-]+"),  # Slack app-level tokens
    re.compile(r"\bsk-[A-Za-z0-9_-]{6,}"),  # OpenAI-style API keys
    re.compile(r"\bdapi[0-9a-f]{16,}"),  # Databricks personal access tokens
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{16,}"),  # GitHub tokens
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),  # AWS access key ids
    re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"),  # JWTs
    re.compile(r"(?i)\b(?:bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{6,}"),  # Authorization values
    re.compile(r"(?i)(?<=[?&;\s])(?:[a-z_]*(?:token|key|secret|password))=[^&\s]+"),  # in URLs
    re.compile(r"(?i)(?<=://)[^/\s:@]+:[^/\s@]+(?=@)"),  # user:password@host
]


def _words(key: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


def is_secret_key(key: str) -> bool:
    """Whether a mapping key names a secret (``api_key``, ``X-Auth-Token``, ``password``...)."""
    if key.lower().replace("-", "_") in _NOT_SECRET:
        return False
    words = _words(key)
    return any(w in _SECRET_WORDS for w in words) or "".join(words) in _SECRET_WORDS


def scrub_text(text: str) -> str:
    """``text`` with every token-shaped substring replaced by ``[REDACTED]``."""
    for pattern in _TOKEN_PATTERNS:
        text = pattern.sub(REDACTED, text)
    return text


def scrub(value: Any) -> Any:
    """A copy of ``value`` with secrets redacted.

    Under a secret-looking key every value except numbers, booleans and null is redacted (counts
    such as ``prompt_tokens`` carry no secret); elsewhere strings lose token-shaped substrings.
    """
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            secret = is_secret_key(str(k)) and not (v is None or isinstance(v, bool | int | float))
            out[str(k)] = REDACTED if secret else scrub(v)
        return out
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value
