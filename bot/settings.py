"""The one configuration object of the bot, read from environment variables at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.agent.policy import ApprovalPolicy


class Settings(BaseSettings):
    """Validated configuration. Build it once (``Settings()``) and pass it down; no module
    reads environment variables.

    ``platform="sandbox"`` (the default) runs every adapter against the embedded local platform, so
    the bot works with no cloud account, no Slack workspace and no API key.
    """

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    platform: Literal["sandbox", "remote"] = Field(
        "sandbox", description="sandbox: the embedded local platform; remote: the URLs below"
    )
    state_dir: Path = Field(Path(".model-incident"), description="working files (sandbox, SQLite)")
    database_url: str = Field(
        "", description="SQLite file or postgresql:// URL; empty means <state_dir>/bot.db"
    )

    # Serving platform (Databricks Model Serving wire format).
    databricks_host: str = "http://127.0.0.1:8710"
    databricks_token: SecretStr = SecretStr("")
    # The fine-tuned agent fleet's gateway.
    gateway_url: str = "http://127.0.0.1:8710/gateway"
    # Model registry: an MLflow tracking/registry URI (http(s)://, databricks, sqlite:///...).
    mlflow_tracking_uri: str = ""
    # Prometheus HTTP API.
    prometheus_url: str = "http://127.0.0.1:8710/prometheus"
    # Mistral API: used by the provider check tool and, when llm_mode="mistral", by the assistant.
    mistral_server_url: str = "http://127.0.0.1:8710/mistral"
    mistral_api_key: SecretStr = SecretStr("")
    mistral_model: str = "mistral-small-latest"
    # The optional LLM assistant (bot/llm/): off (the default) | mistral (the mistralai SDK) |
    # openai-compatible (any /v1/chat/completions server: vLLM, Ollama, llama.cpp, over httpx).
    llm_mode: Literal["off", "mistral", "openai-compatible"] = "off"
    llm_model: str = Field("", description="model id; empty means MISTRAL_MODEL")
    llm_base_url: str = Field(
        "", description="the chat server's base URL; empty means MISTRAL_SERVER_URL"
    )
    llm_api_key: SecretStr = Field(
        SecretStr(""),
        description="key of an OpenAI-compatible server; mistral uses MISTRAL_API_KEY",
    )
    llm_timeout_s: float = Field(10.0, gt=0, le=120, description="deadline of one LLM call")
    llm_max_retries: int = Field(1, ge=0, le=3, description="retries of a 429/5xx/timeout")
    llm_max_calls_per_incident: int = Field(3, ge=0, le=10)
    llm_max_tokens_per_incident: int = Field(4000, ge=0, le=20000)

    # Every upstream call has a deadline and a bounded retry budget: a dead dependency must turn
    # into a no-data finding quickly, never into a stalled incident.
    tool_timeout_s: float = Field(5.0, gt=0, le=120)
    tool_retries: int = Field(1, ge=0, le=5)
    # An executor holds its ledger row under a lease it renews while the tool runs; another
    # process takes the row over only after the lease ran out (the executor is surely gone).
    ledger_lease_s: float = Field(15.0, ge=1, le=600)

    # Approvals.
    approvers: list[str] = Field(
        default_factory=lambda: ["demo-approver"],
        description="user ids allowed to approve changes (Slack user ids in production)",
    )
    approval_policy: ApprovalPolicy | None = Field(
        None,
        description="JSON: who may approve per risk level (approvers, groups, required, "
        "requester_may_approve); empty means APPROVERS for every risk, and a high-risk change "
        "never approved by the person who opened the incident",
    )
    proposal_ttl_s: int = Field(1800, gt=0, description="an unanswered proposal expires after this")
    max_verify_wait_s: float | None = Field(
        None,
        ge=0,
        description="cap on each wait before a verify check; empty means the runbook's own wait "
        "(the embedded sandbox applies changes at once and never waits)",
    )

    # Audit chain anchoring, outside the database: the key signs every entry (empty: a key file
    # generated under state_dir, for the sandbox and development); the anchor file keeps every
    # committed chain head (empty: <state_dir>/audit-anchor.jsonl).
    audit_signing_key: SecretStr = SecretStr("")
    audit_anchor_path: Path | None = None

    # Slack.
    slack_bot_token: SecretStr = SecretStr("")
    slack_signing_secret: SecretStr = SecretStr("")
    slack_app_token: SecretStr = SecretStr("")
    slack_api_url: str = Field(
        "https://slack.com/api/", description="the Web API base URL (a local Slack in tests)"
    )
    slack_streaming: bool = Field(
        True, description="show the walk with Slack's agent streaming; off: one edited message"
    )

    # Alertmanager webhook (POST /alerts/alertmanager on `serve`).
    alertmanager_token: SecretStr = Field(
        SecretStr(""),
        description="bearer token Alertmanager sends (http_config.authorization); "
        "empty refuses every delivery",
    )
    alert_channel: str = Field("", description="Slack channel id where alert threads are opened")
    alert_target_labels: list[str] = Field(
        default_factory=lambda: [
            "endpoint",
            "endpoint_name",
            "agent",
            "model",
            "target",
            "service",
        ],
        min_length=1,
        description="JSON list: labels that name an alert's target, most specific first",
    )
    alert_fleet_services: list[str] = Field(
        default_factory=lambda: ["gateway"],
        description="JSON list: `service` label values that mean the whole agent fleet",
    )
    alert_max_diagnoses: int = Field(
        4, ge=1, le=64, description="alert incidents diagnosed at once; the rest wait their turn"
    )
    alert_intake_sync: Literal["full", "normal"] = Field(
        "normal",
        description="SQLite only, the intake's own connections: normal = a stored delivery "
        "survives the bot's crash or kill (WAL, no fsync per commit); full = also a power loss "
        "(an fsync per commit, several times slower on most disks)",
    )

    def policy(self) -> ApprovalPolicy:
        """The approval policy in force."""
        return self.approval_policy or ApprovalPolicy.from_approvers(list(self.approvers))

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file under ``state_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.state_dir / 'bot.db').resolve()}"
