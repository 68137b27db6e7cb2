"""Command groups of the CLI: thin handlers that parse arguments, call functions, render."""
