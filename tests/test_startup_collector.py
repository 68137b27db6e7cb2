"""The command line pauses the cyclic collector while a command loads what it uses, and the
composition root turns it back on, with start-up's objects frozen, once the app is built: a
long-running bot must never run without its collector. Fresh interpreters, since the switch is
process-wide and once per process."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_the_app_turns_the_paused_collector_back_on_with_start_up_frozen() -> None:
    out = _run(
        """
        import asyncio, gc, tempfile
        from pathlib import Path
        from bot.startup import pause_collector
        pause_collector()
        print(gc.isenabled())
        from bot.compose import open_app
        from bot.settings import Settings

        async def main():
            settings = Settings(_env_file=None, state_dir=Path(tempfile.mkdtemp()))
            async with open_app(settings):
                print(gc.isenabled(), gc.get_freeze_count() > 10_000)

        asyncio.run(main())
        """
    )
    assert out.splitlines() == ["False", "True True"]


def test_the_entry_point_pauses_the_collector_before_the_command_runs() -> None:
    out = _run(
        """
        import gc, sys
        import bot.cli
        seen = []
        bot.cli.app = lambda: seen.append(gc.isenabled())
        bot.cli.main()
        print(seen)
        """
    )
    assert out == "[False]"
