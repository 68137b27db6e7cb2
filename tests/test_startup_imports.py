"""Start-up is paid only by what a command uses: the CLI loads typer and the standard library,
and a command's help loads nothing of the agent, the store, the sandbox or rich.

Each check runs in a fresh interpreter, since this test process has imported everything already.
Nothing here is timed (``bench/bench_startup.py`` measures); the imports are what makes it slow.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

HEAVY = (
    "langgraph",
    "langchain_core",
    "mlflow",
    "sqlalchemy",
    "httpx",
    "fastapi",
    "uvicorn",
    "pydantic",
    "pydantic_settings",
    "rich",
    "yaml",
    "sandbox",
    "tools",
)
COMMANDS = ["check", "diagnose", "resume", "demo", "eval", "sandbox", "runbooks", "audit"]
SUBCOMMANDS = [["sandbox", "up"], ["runbooks", "lint"], ["runbooks", "show"], ["audit", "verify"]]


def _loaded_after(code: str) -> dict[str, list[str]]:
    """The top-level packages and the ``bot`` modules loaded by ``code`` in a fresh interpreter,
    beyond those the interpreter loads by itself."""
    report = textwrap.dedent(
        """
        import json, sys
        print(json.dumps(sorted(sys.modules)))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code) + report],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    modules = json.loads(out.strip().splitlines()[-1])
    return {
        "top": sorted({m.split(".")[0] for m in modules}),
        "bot": sorted(m for m in modules if m == "bot" or m.startswith("bot.")),
    }


def _allowed_top_level() -> set[str]:
    """The standard library and whatever typer itself needs."""
    return set(sys.stdlib_module_names) | set(_loaded_after("import typer")["top"])


def test_importing_the_cli_loads_only_typer_and_the_standard_library() -> None:
    loaded = _loaded_after("import bot.cli")
    heavy = [name for name in HEAVY if name in loaded["top"]]
    assert heavy == [], f"import bot.cli loads {heavy}: import them inside the command"
    assert set(loaded["top"]) - _allowed_top_level() == {"bot"}
    # bot.startup is the entry point's collector switch: the standard library's gc alone.
    assert all(
        m in ("bot", "bot.cli", "bot.startup") or m.startswith("bot.commands")
        for m in loaded["bot"]
    )


@pytest.mark.parametrize("args", [[], *([c] for c in COMMANDS), *SUBCOMMANDS], ids=" ".join)
def test_help_of_every_command_answers_without_heavy_imports(args: list[str]) -> None:
    code = f"""
        import contextlib, io
        from bot.cli import app
        with contextlib.redirect_stdout(io.StringIO()) as shown:
            try:
                app({[*args, "--help"]!r}, prog_name="model-incident")
            except SystemExit as exc:
                assert exc.code == 0, exc.code
        assert "Usage: model-incident" in shown.getvalue(), shown.getvalue()
    """
    loaded = _loaded_after(code)
    # typer itself converts some parameter types (lists) with pydantic while it builds a command.
    assert [name for name in HEAVY if name in loaded["top"] and name != "pydantic"] == []


def test_top_level_help_lists_every_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--help"], capture_output=True, text=True, check=True
    )
    listed = done.stdout.split("Commands:", 1)[1].split()
    assert all(command in listed for command in COMMANDS)
