"""The cyclic garbage collector around start-up.

Start-up allocates about 300,000 objects that live as long as the process: the modules of
langgraph, SQLAlchemy, FastAPI and pydantic, the runbooks, the compiled graph. The collector
cannot free any of them, yet while they are being created it runs again and again, each time
walking everything allocated so far (0.3 s of a 3 s ``diagnose --dry-run``), and afterwards every
older-generation collection walks them all once more (about 130 ms of an 880 ms incident in
``bench.bench_diagnosis``).

So the command line pauses the collector before a command imports anything
(:func:`pause_collector`), and :func:`freeze_startup_heap` (called once the app is built, or a
long-running command is about to serve) moves what exists then out of the collector's reach and
turns it back on. Reference counting frees everything else as usual throughout.
"""

from __future__ import annotations

import functools
import gc


def pause_collector() -> None:
    """Stop cyclic collections until :func:`freeze_startup_heap` (a short command may exit
    first: the process's memory goes back with it)."""
    gc.disable()


@functools.cache
def freeze_startup_heap() -> None:
    """Once per process: freeze what start-up loaded and collect cycles again from here on."""
    gc.freeze()
    gc.enable()
