"""No secret and no personal data at rest: a full incident whose platform logs carry every kind of
credential leaves none of them in the LangGraph checkpoint tables or the audit table, on SQLite
and on PostgreSQL. The tables are read raw (bytes and all), as an attacker with the database
would read them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.agent.types import Trigger
from bot.compose import open_app
from bot.domain import DecisionKind
from bot.service.models import Answer, OpenRequest
from bot.settings import Settings
from bot.store.testing import temporary_database
from sandbox.runtime import Sandbox
from sandbox.world import LogLine

ENDPOINT = "sentiment-endpoint"
APPROVER = "alice"
SECRETS = {
    "databricks": "dapi0123456789abcdef0123456789abcdef",
    "basic": "dXNlcjpzM2NyM3RwYXNz",
    "aws_secret": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    "aws_id": "AKIAIOSFODNN7EXAMPLE",
    "stripe": "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "slack": "xoxb-1234567890-0987654321-AbCdEfGhIjKl",
    "slack_app": "xapp-1-A0123456789-0123456789012-abcdef0123",
    "mistral": "Qw3rTy7uIoP9aSdF2gHjK4lZ5xCvB6nM",
    "url_password": "pa55word-in-url",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJl",
    "pem": "MIIEowIBAAKCAQEA1xSecretKeyBody",
    "email": "maria.rossi@example.com",
    "card": "4111 1111 1111 1111",
    "iban": "DE89 3704 0044 0532 0130 00",
    "ssn": "123-45-6789",
}
LINES = [
    f"calling workspace with token {SECRETS['databricks']} failed: 403",
    f"upstream said 401 for Authorization: Basic {SECRETS['basic']}",
    f"boto: aws_access_key_id={SECRETS['aws_id']} aws_secret_access_key={SECRETS['aws_secret']}",
    f"payment retry with {SECRETS['stripe']} exception",
    f"slack invalid_auth for {SECRETS['slack']} and {SECRETS['slack_app']}",
    f"MistralAPIError 401: MISTRAL_API_KEY={SECRETS['mistral']}",
    f"mlflow at https://admin:{SECRETS['url_password']}@mlflow.internal unreachable",
    f"id_token={SECRETS['jwt']} rejected",
    f"key file -----BEGIN RSA PRIVATE KEY-----\n{SECRETS['pem']}\n-----END RSA PRIVATE KEY-----",
    f"request payload: contact {SECRETS['email']}, card {SECRETS['card']}",
    f"refund to {SECRETS['iban']} for ssn {SECRETS['ssn']} failed",
]


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with temporary_database(request.param, tmp_path) as url:
        yield url


async def _raw_tables(engine: AsyncEngine, tables: list[str]) -> str:
    """Every column of every row of ``tables``, bytes decoded as they are stored."""
    chunks: list[str] = []
    async with engine.connect() as conn:
        for table in tables:
            for row in (await conn.execute(text(f"SELECT * FROM {table}"))).all():
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        chunks.append(bytes(value).decode("utf-8", "replace"))
                    else:
                        chunks.append(str(value))
    return "\n".join(chunks)


async def test_a_full_incident_keeps_no_secret_at_rest(
    sandbox: Sandbox, database_url: str, tmp_path: Path
) -> None:
    await sandbox.inject("security.sensitive_logs", ENDPOINT)
    world = sandbox.world.model_copy(deep=True)
    for i, line in enumerate(LINES):
        world.logs.append(
            LogLine(minutes_ago=10 - i * 0.5, level="ERROR", source=ENDPOINT, message=line)
        )
    await sandbox.set_world(world)
    settings = Settings(
        _env_file=None,
        state_dir=tmp_path / "state",
        database_url=database_url,
        approvers=[APPROVER],
        tool_timeout_s=15.0,
        tool_retries=0,
        max_verify_wait_s=0.0,
    )
    async with open_app(settings, sandbox=sandbox) as app:
        view = await app.service.open(
            OpenRequest(trigger=Trigger(target=ENDPOINT), requester="oncall-user")
        )
        for _ in range(10):
            if view.pending is None:
                break
            answer = Answer(
                proposal_id=view.pending.proposal_id, decision=DecisionKind.APPROVE, actor=APPROVER
            )
            view = await app.service.answer(answer)
        assert view.outcome is not None, view
        # AsyncSqliteSaver keeps its writes in ``writes``; AsyncPostgresSaver splits blobs out.
        sqlite = app.store.engine.dialect.name == "sqlite"
        tables = ["checkpoints", "writes"] if sqlite else ["checkpoints", "checkpoint_writes"]
        checkpoints = await _raw_tables(
            app.store.engine, [*tables, *([] if sqlite else ["checkpoint_blobs"])]
        )
        audit = await _raw_tables(app.store.engine, ["audit"])
    assert "gateway_logs" in checkpoints and "[REDACTED:" in checkpoints, "the logs were read"
    for kind, secret in SECRETS.items():
        assert secret not in checkpoints, f"{kind} in the checkpoints"
        assert secret not in audit, f"{kind} in the audit"
