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
# Every other C0/C1 control character, DEL, and the Unicode bidi overrides that reorder a line.
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def safe(text: object) -> str:
    """``text`` with escape sequences removed, control characters (newlines included) shown as
    ``␤``/``?``, and rich markup escaped, so it prints as exactly one line of inert text."""
    from rich.markup import escape

    cleaned = _ESCAPES.sub("", str(text))
    cleaned = _CONTROLS.sub(lambda m: "␤" if m.group() in "\n\r" else "?", cleaned)
    return escape(cleaned)
