"""The schema, as SQLAlchemy Core tables: the same definitions serve SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite keeps no zone, so we add it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


metadata = MetaData()

PROPOSAL_STATUSES = "'pending','approved','rejected','expired','executed','failed'"

incidents = Table(
    "incidents",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("target", String(256), nullable=False),
    Column("trigger", JSON, nullable=False),
    Column("status", String(32), nullable=False),
    Column("runbook", String(128)),
    Column("thread_ref", String(256)),
    Column("final_state", JSON),
    # Who opened it (a CLI user, a Slack user id, ``alertmanager``): the four-eyes rule keeps
    # them from approving its high-risk changes.
    Column("requested_by", String(256)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_incidents_target_status", "target", "status"),
    Index("ix_incidents_thread_ref", "thread_ref"),
)

proposals = Table(
    "proposals",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("incident_id", String(64), ForeignKey("incidents.id"), nullable=False),
    Column("action", Text, nullable=False),
    Column("tool", String(128), nullable=False),
    Column("params", JSON, nullable=False),
    Column("dry_run", JSON, nullable=False),
    Column("risk", String(16), nullable=False),
    Column("idempotency_key", String(256), nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    CheckConstraint(f"status IN ({PROPOSAL_STATUSES})", name="ck_proposals_status"),
    Index("ix_proposals_incident", "incident_id"),
)

# proposal_id is the primary key: the database itself refuses a second decision on a proposal.
approvals = Table(
    "approvals",
    metadata,
    Column("proposal_id", String(64), ForeignKey("proposals.id"), primary_key=True),
    Column("decision", String(16), nullable=False),
    Column("actor", String(256), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("source", String(32), nullable=False),
    Column("channel", String(256)),
    Column("reason", Text),
    CheckConstraint("decision IN ('approved','rejected')", name="ck_approvals_decision"),
)

# Every vote that counted, one per approver and proposal: with two approvers required, the first
# vote waits here and the second one moves the proposal. ``approvals`` keeps the final decision.
approval_votes = Table(
    "approval_votes",
    metadata,
    Column("proposal_id", String(64), ForeignKey("proposals.id"), primary_key=True),
    Column("actor", String(256), primary_key=True),
    Column("decision", String(16), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("source", String(32), nullable=False),
    Column("channel", String(256)),
    Column("reason", Text),
    CheckConstraint("decision IN ('approved','rejected')", name="ck_approval_votes_decision"),
)

ledger = Table(
    "ledger",
    metadata,
    Column("idempotency_key", String(256), primary_key=True),
    Column("proposal_id", String(64)),
    Column("tool", String(128), nullable=False),
    Column("params", JSON, nullable=False),
    Column("state", String(16), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime),
    Column("result", JSON),
    # A ``started`` row belongs to the executor holding ``owner`` while ``lease_expires_at`` is
    # ahead; the executor renews it while the tool runs, so only a dead owner's row is taken over.
    Column("owner", String(64)),
    Column("lease_expires_at", UTCDateTime),
    CheckConstraint("state IN ('started','succeeded','failed')", name="ck_ledger_state"),
)

audit = Table(
    "audit",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("incident_id", String(64)),
    Column("at", UTCDateTime, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("actor", String(256), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    # HMAC of ``hash`` with a key the database does not hold (``bot.audit.signing``); None when
    # the appender had no key.
    Column("signature", String(128)),
    Index("ix_audit_incident", "incident_id"),
)

# One row (id = 1): the last seq and hash. Appenders lock it, so concurrent writers (several
# replicas on PostgreSQL) take turns and the chain can never fork; verify also checks the tail
# against it, so deleting the newest rows is detected.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", Integer, nullable=False),
    Column("hash", String(64), nullable=False),
)

# Alertmanager deliveries as received (before the webhook answered 2xx), one row each.
alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("group_key", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("receiver", String(256), nullable=False),
    Column("truncated_alerts", Integer, nullable=False),
    Column("alerts_new", Integer, nullable=False),
    Column("alerts_duplicate", Integer, nullable=False),
    Column("alerts_rejected", Integer, nullable=False),
)

# One row per distinct alert event (groupKey + fingerprint + status): a redelivery finds its key
# taken and adds nothing. Rejected alerts are kept too (kind ``rejected``, with the reason), each
# under its delivery and index. ``processed_at`` is set once the worker has acted on the row.
alert_events = Table(
    "alert_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("dedupe_key", String(512), nullable=False, unique=True),
    Column("delivery_id", String(64), ForeignKey("alert_deliveries.id"), nullable=False),
    Column("group_key", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("alertname", String(256)),
    Column("target", String(256)),
    Column("fingerprint", String(64)),
    Column("labels", JSON, nullable=False),
    Column("annotations", JSON, nullable=False),
    Column("generator_url", Text, nullable=False),
    Column("starts_at", String(64), nullable=False),
    Column("reason", Text),
    Column("received_at", UTCDateTime, nullable=False),
    Column("processed_at", UTCDateTime),
    CheckConstraint("status IN ('firing','resolved','rejected')", name="ck_alert_events_status"),
    CheckConstraint(
        "kind IN ('model','fleet','infrastructure','rejected')", name="ck_alert_events_kind"
    ),
    Index("ix_alert_events_unprocessed", "processed_at", "id"),
)

# One incident and one Slack thread per alert group: the group's key, the incident it opened
# and where its thread lives.
alert_threads = Table(
    "alert_threads",
    metadata,
    Column("group_key", String(1024), primary_key=True),
    Column("incident_id", String(64), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("thread_ts", String(64), nullable=False),
    Column("target", String(256), nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("state IN ('firing','resolved')", name="ck_alert_threads_state"),
)
