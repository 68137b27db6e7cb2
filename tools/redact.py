"""Redaction of personal data and secrets in text that leaves a tool (log lines, messages).

Patterns run in a fixed order (most specific first) so that, e.g., a bearer token is not half
matched as an API key and a card number is not reported as a phone number.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _is_card(match: re.Match[str]) -> bool:
    digits = re.sub(r"\D", "", match.group(0))
    return 13 <= len(digits) <= 19 and _luhn_ok(digits)


def _is_phone(match: re.Match[str]) -> bool:
    return 8 <= len(re.sub(r"\D", "", match.group(0))) <= 15


@dataclass(frozen=True)
class _Rule:
    kind: str
    pattern: re.Pattern[str]
    # Keep group 1 (e.g. "api_key=") and replace the rest.
    keep_prefix: bool = False
    accept: Callable[[re.Match[str]], bool] = field(default=lambda _m: True)


_RULES: tuple[_Rule, ...] = (
    _Rule("bearer", re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{8,}"), keep_prefix=True),
    _Rule(
        "api_key",
        re.compile(
            r"(?i)(\b(?:api[_-]?key|apikey|access[_-]?key|secret|token|password|passwd)"
            r"[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&}]{6,}"
        ),
        keep_prefix=True,
    ),
    _Rule(
        "api_key",
        re.compile(
            r"\b(?:sk|pk|rk)-[A-Za-z0-9_-]{12,}"
            r"|\bxox[abposr]-[A-Za-z0-9-]{10,}|\bxapp-[A-Za-z0-9-]{10,}"
            r"|\bgh[pousr]_[A-Za-z0-9]{20,}|\bAKIA[0-9A-Z]{16}\b"
            r"|\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
        ),
    ),
    _Rule("email", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")),
    _Rule("card", re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])"), accept=_is_card),
    _Rule(
        "phone",
        re.compile(
            r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])"
            r"\d{3,4}[ .-]?\d{3,4}(?![\w-])"
            r"|(?<![\w+])\+\d{8,15}(?!\w)"
        ),
        accept=_is_phone,
    ),
)

KINDS: tuple[str, ...] = ("email", "card", "api_key", "bearer", "phone")


@dataclass(frozen=True)
class Redacted:
    text: str
    found: Counter[str]


def redact(text: str) -> Redacted:
    """``text`` with every email, card number, API key/token, bearer credential and phone number
    replaced by ``[REDACTED:<kind>]``, and how many of each kind were found."""
    found: Counter[str] = Counter()
    for rule in _RULES:

        def replace(match: re.Match[str], rule: _Rule = rule) -> str:
            if not rule.accept(match):
                return match.group(0)
            found[rule.kind] += 1
            prefix = match.group(1) if rule.keep_prefix else ""
            return f"{prefix}[REDACTED:{rule.kind}]"

        text = rule.pattern.sub(replace, text)
    return Redacted(text, found)
