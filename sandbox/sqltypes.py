"""The column types a model signature and an ``ai_query`` returnType can name, as Spark SQL
spells them:
``string``, ``double``, ``long``, ``integer``, ``float``, ``boolean``, ``binary``, ``datetime``,
``array<T>``, ``map<string, T>`` and ``struct<a: T, b: T>`` (nested to any depth).

A world writes a signature column's type this way; the registry stores it as MLflow's column spec
(``{"type": "array", "items": {...}}``, ``{"type": "object", "properties": {...}}``), and the
simulated model answers with values of that shape (lists, nested objects), so every type a
signature allows can be served and read back.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from typing import Any

from tools.readonly.serving import TYPE_SYNONYMS

# Spark SQL spellings of MLflow's scalar types: the same table the bot's contract check reads.
SYNONYMS = TYPE_SYNONYMS
SCALARS = frozenset(
    {"string", "double", "long", "integer", "float", "boolean", "binary", "datetime"}
)
# Output names that read as a class label: their string value is a label, not a number.
LABEL_NAMES = frozenset({"label", "sentiment", "prediction", "class"})


@dataclass(frozen=True)
class SqlType:
    """A parsed type: a scalar, or ``array`` / ``map`` (``items``) or ``struct`` (``fields``)."""

    kind: str
    items: SqlType | None = None
    fields: tuple[tuple[str, SqlType], ...] = ()

    def text(self) -> str:
        """The canonical spelling (lower case, ``struct<a: string>``)."""
        if self.kind == "array":
            return f"array<{self.items.text() if self.items else 'string'}>"
        if self.kind == "map":
            return f"map<string, {self.items.text() if self.items else 'string'}>"
        if self.kind == "struct":
            return "struct<" + ", ".join(f"{n}: {t.text()}" for n, t in self.fields) + ">"
        return self.kind


def _split(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += ch == "<"
        depth -= ch == ">"
        if ch == "," and depth == 0:
            parts.append(current.strip())
            current = ""
            continue
        current += ch
    if current.strip():
        parts.append(current.strip())
    return parts


def parse_type(text: str) -> SqlType:
    """Parse a type; ``ValueError`` naming what is wrong."""
    raw = text.strip()
    head = re.match(r"^(\w+)\s*(<(.*)>)?$", raw, re.DOTALL)
    if head is None:
        raise ValueError(f"not a type: {text!r}")
    kind = SYNONYMS.get(head.group(1).lower(), head.group(1).lower())
    inner = head.group(3)
    if kind in SCALARS and inner is None:
        return SqlType(kind)
    if kind == "array" and inner is not None:
        return SqlType("array", items=parse_type(inner))
    if kind == "map" and inner is not None:
        key, _, value = inner.partition(",")
        if parse_type(key).kind != "string" or not value.strip():
            raise ValueError(f"a map needs string keys and a value type: {text!r}")
        return SqlType("map", items=parse_type(value))
    if kind == "struct" and inner is not None:
        fields = []
        for part in _split(inner):
            name, _, kind_text = part.replace(":", " ", 1).strip().partition(" ")
            if not name or not kind_text.strip():
                raise ValueError(f"struct field {part!r} needs a name and a type")
            fields.append((name.strip("`"), parse_type(kind_text)))
        if not fields:
            raise ValueError(f"an empty struct: {text!r}")
        return SqlType("struct", fields=tuple(fields))
    known = ", ".join(sorted(SCALARS | {"array<T>", "map<string, T>", "struct<a: T>"}))
    raise ValueError(f"unknown type {text!r}; one of {known}")


def normalise(text: str) -> str:
    """The canonical spelling of a type, or the text lower-cased when it does not parse."""
    try:
        return parse_type(text).text()
    except ValueError:
        return " ".join(text.lower().split())


def colspec(kind: SqlType) -> dict[str, Any]:
    """MLflow's column spec of a type (without name and required)."""
    if kind.kind == "array":
        return {"type": "array", "items": colspec(kind.items or SqlType("string"))}
    if kind.kind == "map":
        return {"type": "map", "values": colspec(kind.items or SqlType("string"))}
    if kind.kind == "struct":
        return {
            "type": "object",
            "properties": {n: {**colspec(t), "required": True} for n, t in kind.fields},
        }
    return {"type": kind.kind}


def sample_value(kind: SqlType, name: str, seed: int) -> Any:
    """A deterministic value of ``kind`` for output ``name`` (``seed`` varies it per request)."""
    score = round(0.5 + (seed % 500) / 1000, 3)
    if kind.kind == "array":
        item = kind.items or SqlType("string")
        return [sample_value(item, name, seed + i) for i in range(2)]
    if kind.kind == "map":
        return {"value": sample_value(kind.items or SqlType("string"), name, seed)}
    if kind.kind == "struct":
        return {n: sample_value(t, n, seed + zlib.crc32(n.encode())) for n, t in kind.fields}
    if kind.kind in ("double", "float"):
        return score
    if kind.kind in ("long", "integer"):
        return int(score * 100)
    if kind.kind == "boolean":
        return seed % 2 == 1
    if kind.kind == "datetime":
        return "2026-01-01T00:00:00Z"
    if name.lower() in LABEL_NAMES:
        return "positive" if seed % 2 else "negative"
    return str(score)
