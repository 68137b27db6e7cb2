"""The optional LLM assistant: triage, explanations and summaries. It never decides or executes."""
