"""The append-only anchor file: chain heads written outside the database.

Signatures stop a rewrite, but not a truncation (drop the newest rows and move the head back) or a
wipe (empty the table, reset the head): what is left is still validly signed. So every committed
head is also appended here, as one JSON line ``{chain, seq, hash, signature, at}``; verify then
checks that the database's chain still holds every anchored head. Lines of several databases may
share one file: ``chain`` names the database an anchor belongs to.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ValidationError
from sqlalchemy.engine import URL

ANCHOR_FILE_NAME = "audit-anchor.jsonl"


class Anchor(BaseModel):
    """One chain head as it was when a transaction that appended to the chain committed."""

    chain: str
    seq: int
    hash: str
    signature: str | None
    at: datetime


class AnchorRead(BaseModel):
    """The anchors of one chain, plus how many lines of the file could not be read."""

    anchors: list[Anchor]
    unreadable_lines: int = 0


def chain_id(url: URL) -> str:
    """A stable name for the database behind ``url`` (credentials left out).

    SQLite paths are resolved, so two spellings of one file name the same chain; a PostgreSQL URL
    keeps its options (a ``search_path`` selects a different set of tables).
    """
    backend = url.get_backend_name()
    if backend == "sqlite":
        name = f"sqlite:{Path(url.database or '').resolve()}"
    else:
        plain = url.set(drivername=backend, password=None)
        name = plain.render_as_string(hide_password=False)
    return hashlib.sha256(name.encode()).hexdigest()[:24]


class AnchorFile:
    """Appends and reads anchor lines; several processes may append at once."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, anchor: Anchor) -> None:
        """Append one line (O_APPEND, under an exclusive lock, one ``write``)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (anchor.model_dump_json() + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, line)
        finally:
            os.close(fd)

    def read(self, chain: str) -> AnchorRead:
        """Every anchor of ``chain`` in the order written; a missing file has none."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return AnchorRead(anchors=[])
        anchors: list[Anchor] = []
        unreadable = 0
        for line in text.splitlines():
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                if isinstance(data, dict) and data.get("chain") != chain:
                    continue
                anchors.append(Anchor.model_validate(data))
            except (ValueError, ValidationError):
                unreadable += 1
        return AnchorRead(anchors=anchors, unreadable_lines=unreadable)


def now_utc() -> datetime:
    """The anchor's wall-clock time (when the head was committed, not when the entry was made)."""
    return datetime.now(UTC)
