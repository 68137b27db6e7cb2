"""The runbook agent: a LangGraph graph that walks runbooks, proposes, waits, acts, verifies."""
