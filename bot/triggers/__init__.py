"""What opens an incident: Alertmanager webhooks and ``/model-incident <target>`` commands."""

from bot.triggers.alertmanager import (
    AlertTrigger,
    CommandError,
    RejectedAlert,
    ResolvedAlert,
    WebhookBatch,
    WebhookError,
    parse_command_text,
    parse_webhook,
)

__all__ = [
    "AlertTrigger",
    "CommandError",
    "RejectedAlert",
    "ResolvedAlert",
    "WebhookBatch",
    "WebhookError",
    "parse_command_text",
    "parse_webhook",
]
