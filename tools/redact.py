"""The one redactor: credentials and personal data out of everything the bot keeps or shows.

Every tool result passes through :func:`redact_result` before it reaches the agent's state (and
so the LangGraph checkpoints), and every audit payload through :func:`redact_value` before it is
hashed. Two layers:

- by key: under a key that names a secret (``api_key``, ``X-Auth-Token``, ``password``...) a text
  value is replaced whole by :data:`REDACTED`;
- by shape: in any text, credentials of the systems we talk to (Databricks, Slack, Mistral and
  OpenAI-style keys, MLflow and cloud credentials, ``Authorization`` values, passwords in URLs,
  private keys, JWTs) and personal data (e-mail, phone, card numbers passing the Luhn check,
  IBANs passing mod 97, national ids, street addresses, dates of birth, passport numbers, names
  under a key that says whose they are, public IP addresses) become ``[REDACTED:<kind>]``.

Rules run in a fixed order, most specific first, so that a bearer token is not half matched as an
API key and a card number is not reported as a phone number. A redacted text is a fixed point: no
rule matches a placeholder, so running the redactor twice changes nothing and counts nothing.
A false positive costs a less readable line; a false negative leaks a credential into storage
that cannot be cleaned (checkpoints, a hash-chained log), so doubtful shapes are redacted.
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tools.result import ToolResult

REDACTED = "[REDACTED]"  # a whole value under a secret key
REDACTION_MARK = "[REDACTED"  # the start of every placeholder, whole-value or by kind

KINDS: tuple[str, ...] = (
    "private_key",
    "password",
    "bearer",
    "basic_auth",
    "cookie",
    "jwt",
    "api_key",
    "aws_secret",
    "email",
    "address",
    "birth_date",
    "passport",
    "person_name",
    "iban",
    "card",
    "national_id",
    "phone",
    "ip",
)

# --------------------------------------------------------------------------- checks


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


def _is_iban(match: re.Match[str]) -> bool:
    compact = match.group(0).replace(" ", "")
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in moved)) % 97 == 1


def _looks_random(match: re.Match[str]) -> bool:
    """A credential, not a word: it has a digit, a symbol or mixed case (``Bearer authentication``
    and ``sk-learn-model`` stay)."""
    value = match.group("secret")
    return (
        any(c.isdigit() for c in value)
        or any(not c.isalnum() for c in value)
        or (value.lower() != value and value.upper() != value)
    )


def _is_basic_credential(match: re.Match[str]) -> bool:
    """``Basic <base64 of user:password>``, not the word after "basic" in a sentence."""
    value = match.group("secret")
    try:
        decoded = base64.b64decode(value + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return b":" in decoded


_NOT_A_VALUE = frozenset({"none", "null", "true", "false", "empty", "unset", "redacted", "****"})


def _is_value(match: re.Match[str]) -> bool:
    value = match.group("secret").strip("*")
    return bool(value) and match.group("secret").lower() not in _NOT_A_VALUE


def _is_aws_secret(match: re.Match[str]) -> bool:
    value = match.group(0)
    return (
        any(c.islower() for c in value)
        and any(c.isupper() for c in value)
        and any(c.isdigit() for c in value)
        and value.count("/") < 4
        and not value.startswith("/")
    )


def _is_public_ip(match: re.Match[str]) -> bool:
    """A public address outside a URL's host: a client's, which may identify a person. Private,
    loopback and link-local addresses name our own machines and stay readable; so do hosts of
    URLs (a server, not a person) and dotted version numbers."""
    try:
        address = ipaddress.ip_address(match.group(0))
    except ValueError:
        return False
    before = match.string[max(0, match.start() - 12) : match.start()]
    if before.endswith(("://", "@")) or re.search(r"(?i)\b(?:v|ver|version)\s*[:=]?\s*$", before):
        return False
    return address.is_global


def _always(_match: re.Match[str]) -> bool:
    return True


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class _Rule:
    """Replace the ``secret`` group (or the whole match) with a placeholder; ``pre`` is kept."""

    kind: str | Callable[[re.Match[str]], str]
    pattern: re.Pattern[str]
    accept: Callable[[re.Match[str]], bool] = field(default=_always)


def _auth_kind(match: re.Match[str]) -> str:
    scheme = (match.group("scheme") or "").lower()
    return {"bearer": "bearer", "basic": "basic_auth"}.get(scheme, "api_key")


def _kv_kind(match: re.Match[str]) -> str:
    word = match.group("word").lower()
    return "password" if word.startswith(("pass", "pwd")) else "api_key"


_NOT_PLACEHOLDER = r"(?!\[REDACTED)"
_STREET_WORDS = (
    "Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Terrace|Ter|Court|Ct|Place|Pl"
    "|Way|Parkway|Pkwy|Square|Sq|Highway|Hwy|Close|Crescent|Row|Circle|Cir|Alley|Mews|Gardens"
    "|Grove|Hill|Walk"
)
_SCHEMES = r"bearer|basic|token|digest|negotiate|ntlm|apikey|aws4-hmac-sha256"

_RULES: tuple[_Rule, ...] = (
    _Rule(
        "private_key",
        re.compile(
            r"-----BEGIN[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----.*?"
            r"(?:-----END[A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|\Z)",
            re.DOTALL,
        ),
    ),
    # scheme://user:password@host (databases, brokers, MLflow and proxy URLs)
    _Rule(
        "password",
        re.compile(
            r"(?i)(?P<pre>\b[a-z][a-z0-9+.-]*://[^\s/:@]*:)"
            + _NOT_PLACEHOLDER
            + r"(?P<secret>[^\s/@]+)(?=@)"
        ),
    ),
    _Rule(
        _auth_kind,
        re.compile(
            r"(?i)(?P<pre>\b(?:proxy-)?authori[sz]ation[\"']?\s*[:=]\s*[\"']?"
            rf"(?:(?P<scheme>{_SCHEMES})\s+)?){_NOT_PLACEHOLDER}(?!(?:{_SCHEMES})\s)"
            r"(?P<secret>[^\s\"',;\\]+)"
        ),
        accept=_is_value,
    ),
    _Rule(
        "cookie",
        re.compile(
            r"(?i)(?P<pre>\b(?:set-)?cookie[\"']?\s*[:=]\s*[\"']?)"
            + _NOT_PLACEHOLDER
            + r"(?P<secret>[^\s\"'][^\r\n\"']*)"
        ),
    ),
    _Rule(
        "bearer",
        re.compile(
            r"(?i)(?P<pre>\bbearer\s+)" + _NOT_PLACEHOLDER + r"(?P<secret>[A-Za-z0-9._~+/=-]{8,})"
        ),
        accept=_looks_random,
    ),
    _Rule(
        "basic_auth",
        re.compile(r"(?i)(?P<pre>\bbasic\s+)(?P<secret>[A-Za-z0-9+/]{6,}={0,2})(?![\w+/=])"),
        accept=_is_basic_credential,
    ),
    _Rule("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")),
    _Rule(
        "api_key",
        re.compile(
            r"\b(?:dapi|dose|dkea|dsapi)[0-9a-f]{16,}(?:-\d+)?\b"  # Databricks tokens, secrets
            r"|\bxox[abposre](?:\.xox[bp])?-[A-Za-z0-9-]{10,}"  # Slack bot/user/refresh tokens
            r"|\bxapp-[A-Za-z0-9-]{10,}"  # Slack app-level tokens
            r"|\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,}|\bwhsec_[A-Za-z0-9]{16,}"  # Stripe
            r"|\bgh[pousr]_[A-Za-z0-9]{20,}|\bgithub_pat_[A-Za-z0-9_]{20,}"  # GitHub
            r"|\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA)[0-9A-Z]{16}\b"  # AWS
            r"|\bAIza[0-9A-Za-z_-]{35}(?![\w-])|\bya29\.[0-9A-Za-z_-]{20,}"  # Google API, OAuth
            r"|\b[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34}(?![\w~.-])"  # Azure client secret
            r"|\bhf_[A-Za-z0-9]{30,}"  # Hugging Face
            r"|(?<=hooks\.slack\.com/)(?:services|workflows|triggers)/[A-Za-z0-9/_-]{10,}"
        ),
    ),
    # OpenAI-style keys (Mistral's own keys have no prefix: the key and header rules catch them)
    _Rule(
        "api_key",
        re.compile(r"(?P<secret>\bsk-(?:proj-|svcacct-|admin-|ant-)?[A-Za-z0-9_-]{12,})"),
        accept=lambda m: any(c.isdigit() for c in m.group("secret")),
    ),
    # key = value, key: value, "key": "value" (MISTRAL_API_KEY=, MLFLOW_TRACKING_TOKEN=,
    # aws_secret_access_key =, AccountKey=, ?sig=, "password": ...); a quoted value is taken
    # whole, spaces included; JSON escaped inside a string (\"token\": ...) as well.
    _Rule(
        _kv_kind,
        re.compile(
            r"(?i)(?P<pre>"
            r"(?P<word>api[_-]?key|apikey|access[_-]?key|secret[_-]?key|private[_-]?key"
            r"|account[_-]?key|client[_-]?secret|secret|token|password|passwd|passphrase|pwd"
            r"|credentials?|signature|sig)"
            r"\\?[\"']?\s*[:=]\s*\\?(?P<q>[\"'])?)"
            + _NOT_PLACEHOLDER
            + r"(?P<secret>(?(q)[^\s\"'\\][^\"'\\\r\n]{0,511}|[^\s\"',;&}<>\\]{4,}))"
        ),
        accept=_is_value,
    ),
    _Rule(
        "aws_secret",
        re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"),
        accept=_is_aws_secret,
    ),
    _Rule("email", re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")),
    # Street addresses: "742 Evergreen Terrace, Springfield, OR 97403", "12 rue de Rivoli",
    # "Via Roma 10", "Hauptstraße 5". The street word is required, so "served 3 requests" stays.
    _Rule(
        "address",
        re.compile(
            r"(?<![\w.-])\d{1,5}[A-Za-z]?,?\s+(?:[A-Z][A-Za-z'-]+\s+){1,4}"
            rf"(?:{_STREET_WORDS})\b\.?"
            r"(?:,?\s+(?:Apt|Suite|Unit|Flat)\.?\s*#?\w+)?"
            r"(?:,\s*[A-Z][a-z]+(?:\s[A-Z][a-z]+)?)?(?:,?\s*[A-Z]{2}\s+\d{5}(?:-\d{4})?)?"
            r"|(?<![\w.-])\d{1,4}(?:\s?(?:bis|ter))?,?\s+(?i:rue|avenue|boulevard|chemin|all[ée]e"
            r"|impasse|quai|place|calle|avenida|rua)\s+(?:(?i:de|du|des|la|le|del|da|do)\s+|l'|d')*"
            r"[A-ZÀ-Ý][\w'-]+"
            r"|\b(?:Via|Viale|Piazza|Corso|Calle|Avenida|Plaza|Carrer|Rua|Rue)\s+"
            r"(?:(?:de|del|della|di|da|do|la|le)\s+)?(?:[A-ZÀ-Ý][\w'-]+\s+){1,3}\d{1,4}[a-z]?\b"
            r"|\b[A-ZÄÖÜ][a-zäöüß]+(?:straße|strasse|str\.|weg|gasse|platz|allee|laan|gracht)"
            r"\s+\d{1,4}[a-z]?\b"
        ),
    ),
    # A date written next to the words that make it a person's birth date.
    _Rule(
        "birth_date",
        re.compile(
            r"(?i)(?P<pre>\b(?:dob|d\.o\.b\.|date[ _-]?of[ _-]?birth|birth[ _-]?date|birthday"
            r"|born(?:\s+on)?)\\?[\"']?\s*[:=]?\s*\\?[\"']?)"
            + _NOT_PLACEHOLDER
            + r"(?P<secret>\d{1,4}[./-]\d{1,2}[./-]\d{1,4}|\d{1,2}\s+[A-Za-z]{3,9}\s+\d{4}"
            r"|[A-Za-z]{3,9}\s+\d{1,2},?\s+\d{4})"
        ),
    ),
    _Rule(
        "passport",
        re.compile(
            r"(?i)(?P<pre>\b(?:passport|driv(?:er'?s|ing)[ _-]?licen[cs]e)"
            r"(?:[ _-]?(?:no|number|nr|#))?\.?\\?[\"']?\s*[:=#]?\s*\\?[\"']?)"
            + _NOT_PLACEHOLDER
            + r"(?P<secret>[A-Z0-9][A-Z0-9-]{5,14})\b"
        ),
        accept=lambda m: any(c.isdigit() for c in m.group("secret")),
    ),
    # A name under a key that says it is a person's ("customer_name": "Jane Doe", patient: ...).
    _Rule(
        "person_name",
        re.compile(
            r"(?i)(?P<pre>\b(?:customer|client|patient|applicant|passenger|employee|holder"
            r"|cardholder|account[ _-]?holder|full|first|last|sur|given|family)[ _-]?name"
            r"\\?[\"']?\s*[:=]\s*\\?[\"']?)"
            + _NOT_PLACEHOLDER
            + r"(?P<secret>(?-i:[A-ZÀ-Ý][\w'-]+)(?:\s+(?-i:[A-ZÀ-Ý][\w'-]+)){0,3})"
        ),
    ),
    _Rule(
        "iban",
        re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b"),
        accept=_is_iban,
    ),
    _Rule("card", re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\w-])"), accept=_is_card),
    _Rule(
        "national_id",
        re.compile(
            r"(?<![\w-])(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}(?![\w-])"  # US SSN
            r"|\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b"  # UK NINO
            r"|\b[A-Z]{6}\d{2}[A-EHLMPR-T]\d{2}[A-Z]\d{3}[A-Z]\b"  # Italian codice fiscale
        ),
    ),
    _Rule(
        "phone",
        re.compile(
            r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)[ .-]?|\d{2,4}[ .-])"
            r"\d{3,4}[ .-]?\d{3,4}(?![\w-])"
            r"|(?<![\w+])\+\d{8,15}(?!\w)"
        ),
        accept=_is_phone,
    ),
    _Rule(
        "ip",
        re.compile(
            r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\.?\w)"
            r"|(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])"
        ),
        accept=_is_public_ip,
    ),
)


# --------------------------------------------------------------------------- text


@dataclass(frozen=True)
class Redacted:
    text: str
    found: Counter[str]


# Tool results repeat themselves: the same names, states and log lines come back in every check
# of an incident, and the audit copy of a result is redacted again. So the texts known to hold
# nothing to redact are remembered (the oldest forgotten first): a redacted text is a fixed point,
# so every output qualifies, and a text with a secret in it is never kept, only its output.
_CLEAN_TEXTS: dict[str, None] = {}
_CLEAN_TEXTS_MAX = 8192
_CLEAN_TEXT_CHARS = 4096


def redact(text: str) -> Redacted:
    """``text`` with every credential and piece of personal data replaced by
    ``[REDACTED:<kind>]``, and how many of each kind were found."""
    if text in _CLEAN_TEXTS:
        return Redacted(text, Counter())
    redacted = _redact_uncached(text)
    if len(redacted.text) <= _CLEAN_TEXT_CHARS:
        if len(_CLEAN_TEXTS) >= _CLEAN_TEXTS_MAX:
            _CLEAN_TEXTS.pop(next(iter(_CLEAN_TEXTS)), None)
        _CLEAN_TEXTS[redacted.text] = None
    return redacted


def _redact_uncached(text: str) -> Redacted:
    found: Counter[str] = Counter()
    for rule in _RULES:

        def replace(match: re.Match[str], rule: _Rule = rule) -> str:
            if not rule.accept(match):
                return match.group(0)
            kind = rule.kind if isinstance(rule.kind, str) else rule.kind(match)
            found[kind] += 1
            groups = match.groupdict()
            return f"{groups.get('pre') or ''}[REDACTED:{kind}]"

        text = rule.pattern.sub(replace, text)
    return Redacted(text, found)


def redact_text(text: str) -> str:
    """:func:`redact` without the counts."""
    return redact(text).text


# --------------------------------------------------------------------------- structures

# Words that mark a key as holding a secret. "key" alone is included on purpose: a false positive
# costs a less readable row, a false negative leaks a credential into storage that cannot be
# cleaned.
_SECRET_WORDS = frozenset(
    {"token", "key", "secret", "password", "passwd", "authorization", "credential", "credentials"}
    | {"cookie", "apikey", "pwd", "passphrase"}
)
# Keys that contain a secret word but never hold a secret, and that a reader needs.
_NOT_SECRET = frozenset({"idempotency_key", "idempotencykey", "group_key", "groupkey"})


def _words(key: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key)
    return [w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w]


@functools.lru_cache(maxsize=1024)  # keys are few and repeat; they are kept in the output anyway
def is_secret_key(key: str) -> bool:
    """Whether a mapping key names a secret (``api_key``, ``X-Auth-Token``, ``password``...)."""
    if key.lower().replace("-", "_") in _NOT_SECRET:
        return False
    words = _words(key)
    return any(w in _SECRET_WORDS for w in words) or "".join(words) in _SECRET_WORDS


def redact_value(value: Any) -> Any:
    """A copy of a JSON-like ``value`` with secrets and personal data redacted.

    Under a secret-looking key every value except numbers, booleans and null is replaced by
    :data:`REDACTED` (counts such as ``prompt_tokens`` carry no secret); everywhere else strings
    go through :func:`redact`. Keys are kept (they are names, not data), tuples become lists.
    """
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            secret = is_secret_key(str(k)) and not (v is None or isinstance(v, bool | int | float))
            out[str(k)] = REDACTED if secret else redact_value(v)
        return out
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    if isinstance(value, str):
        return redact(value).text
    return value


def redact_result(result: ToolResult) -> ToolResult:
    """``result`` with its parameters, summary, evidence, requests and error redacted: what the
    agent's state, checkpoints, ledger and audit may keep of a tool call."""
    return ToolResult.model_validate(redact_value(result.model_dump(mode="json")))
