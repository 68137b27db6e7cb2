"""A local chat-completions server (the Mistral / OpenAI wire format) with scripted answers."""
