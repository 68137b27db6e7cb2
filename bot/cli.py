"""The ``model-incident`` command line. Each command group lives in ``bot/commands/``.

Start-up is paid only by what a command uses: this module and every command module import typer
and the standard library alone at module level, and each command imports the agent, the store, the
sandbox or rich inside its own function. ``tests/test_startup_imports.py`` holds that line.
Help is click's plain formatter (``rich_markup_mode=None``): typer's rich help imports rich's
markdown and traceback modules, which alone cost more than the rest of ``--help``.
"""

from __future__ import annotations

import typer

from bot.commands import audit, check, demo, diagnose, evals, postmortem, runbooks, sandbox, serve
from bot.startup import pause_collector

app = typer.Typer(
    name="model-incident",
    help="Runbook agent for incidents of production ML models.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    rich_markup_mode=None,
)
app.add_typer(sandbox.app, name="sandbox", help="Run the embedded local platform.")
app.add_typer(runbooks.app, name="runbooks", help="Lint and show the runbook decision trees.")
app.add_typer(audit.app, name="audit", help="Verify, show and export the audit log.")
app.command("check")(check.check)
app.command("diagnose")(diagnose.diagnose)
app.command("resume")(diagnose.resume)
app.command("demo")(demo.demo)
app.command("eval")(evals.eval_command)
app.command("serve")(serve.serve)
app.command("postmortem")(postmortem.postmortem)


def main() -> None:
    """The ``model-incident`` entry point: the collector is paused while the command loads what
    it uses (``bot.startup`` says why), then the command runs."""
    pause_collector()
    app()


if __name__ == "__main__":
    main()
