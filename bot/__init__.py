"""model-incident-bot: a ChatOps runbook agent for incidents of production ML models."""
