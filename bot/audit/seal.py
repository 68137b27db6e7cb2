"""What the store calls when it appends to the chain: sign the entry, anchor the committed head.

``ChainSeal.seal_entry`` is called by the appender inside its transaction, with the new entry's seq
and hash; it returns the signature to store with the row, and remembers the head. When that
transaction commits, the newest head it appended is written to the anchor file; when it rolls back,
nothing is. The anchor line is written just before the database commits, while the appender still
holds the chain head lock, so lines of concurrent appenders land in seq order. (If the commit itself
then fails, the anchor names a head the database never had, and verify reports it: a false alarm,
never a hidden change.)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.audit.anchor import ANCHOR_FILE_NAME, Anchor, AnchorFile, chain_id, now_utc
from bot.audit.signing import SigningKey, load_signing_key

if TYPE_CHECKING:
    from bot.settings import Settings

_STAGED = "model_incident_audit_head"


class ChainSeal:
    """The signing key plus the anchor file, shared by every store a process opens."""

    def __init__(self, key: SigningKey, anchors: AnchorFile) -> None:
        self.key = key
        self.anchors = anchors

    def seal_entry(self, conn: AsyncConnection, seq: int, entry_hash: str) -> str:
        """Sign a new entry and stage its head for the anchor file; return the signature."""
        signature = self.key.sign(entry_hash)
        sync_conn = conn.sync_connection
        assert sync_conn is not None, "seal_entry needs a connection inside a transaction"
        self._listen(conn.sync_engine)
        sync_conn.info[_STAGED] = Anchor(
            chain=chain_id(sync_conn.engine.url),
            seq=seq,
            hash=entry_hash,
            signature=signature,
            at=now_utc(),
        )
        return signature

    def chain_of(self, engine: Engine) -> str:
        """The chain id anchors of this engine's database carry."""
        return chain_id(engine.url)

    def _listen(self, engine: Engine) -> None:
        if event.contains(engine, "commit", self._on_commit):
            return
        event.listen(engine, "commit", self._on_commit)
        event.listen(engine, "rollback", self._on_rollback)

    def _on_commit(self, conn: Connection) -> None:
        staged: Any = conn.info.pop(_STAGED, None)
        if isinstance(staged, Anchor):
            self.anchors.append(staged)

    @staticmethod
    def _on_rollback(conn: Connection) -> None:
        conn.info.pop(_STAGED, None)


def anchor_path(settings: Settings) -> Path:
    """``AUDIT_ANCHOR_PATH``, or ``<state_dir>/audit-anchor.jsonl``."""
    return settings.audit_anchor_path or settings.state_dir / ANCHOR_FILE_NAME


def seal_from_settings(settings: Settings) -> ChainSeal:
    """The seal the composition root gives the store (and ``audit verify`` checks against)."""
    key = load_signing_key(settings.audit_signing_key, settings.state_dir)
    return ChainSeal(key, AnchorFile(anchor_path(settings)))


# Which seal signs for which engine. Kept here rather than on the store so that the append path
# (``bot.store.chain``) needs one call, ``sign_entry``, and no new parameter through every layer.
_SEALS: WeakKeyDictionary[Engine, ChainSeal] = WeakKeyDictionary()


def attach_seal(engine: AsyncEngine, seal: ChainSeal | None) -> None:
    """Make every append through ``engine`` signed and anchored by ``seal`` (None: neither)."""
    if seal is None:
        _SEALS.pop(engine.sync_engine, None)
    else:
        _SEALS[engine.sync_engine] = seal


def seal_of(engine: AsyncEngine) -> ChainSeal | None:
    """The seal attached to ``engine``, if any."""
    return _SEALS.get(engine.sync_engine)


def sign_entry(conn: AsyncConnection, seq: int, entry_hash: str) -> str | None:
    """The append path's hook: the new entry's signature (None when no seal is attached)."""
    seal = _SEALS.get(conn.sync_engine)
    return seal.seal_entry(conn, seq, entry_hash) if seal is not None else None
