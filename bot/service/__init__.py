"""The incident service: the one API the CLI, Slack, the alert webhook and the evals call."""
