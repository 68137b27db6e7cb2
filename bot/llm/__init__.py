"""The optional LLM assistant: free-text readings among a check's own options, triage,
summaries, thread answers and postmortem drafts. It never decides a change or executes one."""
