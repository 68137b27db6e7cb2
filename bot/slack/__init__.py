"""Slack: the slash command, incident threads and approval buttons, over the incident service."""
