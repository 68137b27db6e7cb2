"""The runbook agent: a LangGraph graph that walks the runbooks, proposes, waits, acts and verifies."""
