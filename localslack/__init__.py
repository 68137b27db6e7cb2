"""A local stand-in for the Slack Web API, for tests and for people without a workspace."""
