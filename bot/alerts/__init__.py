"""Alertmanager → the bot → Slack: the webhook intake, the worker that acts on stored alert
events, and one incident thread per alert group."""
