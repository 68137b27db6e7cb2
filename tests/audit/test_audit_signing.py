"""The signing key lives outside the database, and the anchor file only grows."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.audit.anchor import Anchor, AnchorFile, now_utc
from bot.audit.signing import KEY_FILE_NAME, SigningKeyError, load_signing_key


def test_an_unset_key_is_generated_once_into_a_private_file(tmp_path: Path) -> None:
    first = load_signing_key(SecretStr(""), tmp_path)
    path = tmp_path / KEY_FILE_NAME
    assert first.source == "file" and first.path == path
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = load_signing_key(SecretStr(""), tmp_path)
    assert again.key_id == first.key_id, "the same key on every start"
    assert again.is_valid("ab" * 32, first.sign("ab" * 32))
    assert list(tmp_path.iterdir()) == [path], "no staging file left behind"


def test_a_configured_key_wins_and_differs_from_the_file_key(tmp_path: Path) -> None:
    from_file = load_signing_key(SecretStr(""), tmp_path)
    configured = load_signing_key(SecretStr("a long random production key"), tmp_path)
    assert configured.source == "settings"
    digest = "cd" * 32
    assert not from_file.is_valid(digest, configured.sign(digest))
    assert not configured.is_valid(digest, None)
    assert "production" not in repr(configured)


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    load_signing_key(SecretStr(""), tmp_path)
    (tmp_path / KEY_FILE_NAME).chmod(0o644)
    with pytest.raises(SigningKeyError, match="chmod 600"):
        load_signing_key(SecretStr(""), tmp_path)


async def test_concurrent_first_starts_agree_on_one_key(tmp_path: Path) -> None:
    keys = await asyncio.gather(
        *[asyncio.to_thread(load_signing_key, SecretStr(""), tmp_path) for _ in range(8)]
    )
    assert len({key.key_id for key in keys}) == 1


def test_anchor_lines_are_appended_and_read_per_chain(tmp_path: Path) -> None:
    anchors = AnchorFile(tmp_path / "anchors.jsonl")
    assert anchors.read("a").anchors == []
    for seq, chain in ((1, "a"), (1, "b"), (2, "a")):
        anchors.append(
            Anchor(chain=chain, seq=seq, hash=f"{seq}" * 64, signature="s", at=now_utc())
        )
    with anchors.path.open("a") as handle:
        handle.write("not json\n")
    read = anchors.read("a")
    assert [a.seq for a in read.anchors] == [1, 2]
    assert read.unreadable_lines == 1
    assert stat.S_IMODE(anchors.path.stat().st_mode) == 0o600
