"""The key that signs the audit chain, held outside the database.

A hash chain alone proves nothing to someone who can write the database: they can change a row and
recompute every later hash with the same public function. An HMAC-SHA256 over each entry's hash,
with a key the database never holds, makes such a rewrite detectable: the rewriter cannot produce
the signatures.

The key comes from ``AUDIT_SIGNING_KEY``. When it is unset a random key is generated once into
``<state_dir>/audit-signing.key`` (mode 0600), so a sandbox or a developer machine signs too.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import stat
import uuid
from pathlib import Path
from typing import Literal

from pydantic import SecretStr

KEY_FILE_NAME = "audit-signing.key"
KeySource = Literal["settings", "file"]

_ENTRY_CONTEXT = b"model-incident-bot audit entry\x00"


class SigningKeyError(Exception):
    """The signing key cannot be loaded safely (unreadable, or readable by others)."""


class SigningKey:
    """An HMAC-SHA256 key for audit entries; the secret never leaves this object."""

    def __init__(self, secret: SecretStr, source: KeySource, path: Path | None = None) -> None:
        value = secret.get_secret_value()
        if not value:
            raise SigningKeyError("the audit signing key is empty")
        self._key = value.encode()
        self.source: KeySource = source
        self.path = path

    @property
    def key_id(self) -> str:
        """A short public name for the key (an HMAC of a constant), to tell keys apart in output."""
        return hmac.new(self._key, b"key id", hashlib.sha256).hexdigest()[:12]

    def sign(self, entry_hash: str) -> str:
        """The signature of one entry: ``HMAC-SHA256(key, context + entry hash)`` as hex."""
        return hmac.new(self._key, _ENTRY_CONTEXT + entry_hash.encode(), hashlib.sha256).hexdigest()

    def is_valid(self, entry_hash: str, signature: str | None) -> bool:
        """Whether ``signature`` is this key's signature of ``entry_hash`` (constant time)."""
        if not signature:
            return False
        return hmac.compare_digest(self.sign(entry_hash), signature)

    def __repr__(self) -> str:
        return f"SigningKey(source={self.source!r}, key_id={self.key_id!r})"


def load_signing_key(configured: SecretStr, state_dir: Path) -> SigningKey:
    """The configured key, or else the key file under ``state_dir`` (created on first use)."""
    if configured.get_secret_value():
        return SigningKey(configured, "settings")
    path = state_dir / KEY_FILE_NAME
    if not path.exists():
        _create_key_file(path)
    return SigningKey(SecretStr(_read_key_file(path)), "file", path)


def _create_key_file(path: Path) -> None:
    """Write a fresh random key, 0600 from the first byte; a concurrent creator's key wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{uuid.uuid4().hex}")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, (secrets.token_hex(32) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        # link() refuses an existing target: of two processes starting at once, one key stands
        # and neither ever reads a half-written file.
        os.link(staging, path)
    except FileExistsError:
        pass
    finally:
        staging.unlink()


def _read_key_file(path: Path) -> str:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SigningKeyError(
            f"{path} is accessible by other users (mode {stat.S_IMODE(mode):o}); "
            "chmod 600 it or set AUDIT_SIGNING_KEY"
        )
    value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise SigningKeyError(f"{path} is empty; delete it to generate a new key")
    return value
