"""Untrusted text made safe for a terminal: one function every renderer uses.

Target names, alert text, model descriptions and log lines come from outside. Printed raw, an
escape sequence drives the terminal (colours, cursor moves, a window title, a hyperlink) and a
newline or carriage return forges a line of our own output. Rich markup in such text would be
interpreted too.
"""

from __future__ import annotations

import re

# CSI (ESC [ ... final), OSC (ESC ] ... BEL or ST), and two-character ESC sequences; their C1
# single-byte forms (0x9b CSI, 0x9d OSC) as well.
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b\]|\x9d).*?(?:\x07|\x1b\\|\x9c)"
    r"|\x1b[PX^_].*?(?:\x1b\\|\x9c)"
    r"|\x1b[@-Z\\-_]?",
    re.DOTALL,
)
# Every other C0/C1 control character, DEL, the Unicode line and paragraph separators, and the
# bidi marks and overrides that reorder what a line shows.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
# Runs of spaces: our own tables and grids align columns with them, so untrusted text keeps one at
# a time and cannot line a wrapped fragment up like a row of ours ("final    resolved").
_SPACES = re.compile(r" {2,}")


def plain(text: object) -> str:
    """``text`` with escape sequences removed, control characters shown as ``␤`` (line breaks)
    or ``?`` (the rest) and runs of spaces collapsed: one line of inert characters, for output
    that is not rich markup."""
    cleaned = _ESCAPES.sub("", str(text))
    cleaned = _CONTROLS.sub(lambda m: "␤" if m.group() in "\n\r\u2028\u2029" else "?", cleaned)
    return _SPACES.sub(" ", cleaned)


def safe(text: object) -> str:
    """:func:`plain` with rich markup escaped too: for every untrusted value put into a rich
    markup string, table cell or panel title, so it prints as exactly one line of inert text."""
    from rich.markup import escape

    return escape(plain(text))
