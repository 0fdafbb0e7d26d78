"""Printing the text reports, which are written in rich's console markup.

Colour goes through rich; plain text (a pipe, a file, --color never, NO_COLOR) is the
markup with its tags taken out, done here without importing rich: importing it costs more
than a whole warm diff. `plain` reads the markup exactly as rich does
(tests/test_console.py holds the two side by side).
"""

from __future__ import annotations

import os
import re
import sys

COLOR_CHOICES = ("auto", "always", "never")
# rich's markup grammar (rich.markup.RE_TAGS): a tag, with the backslashes before it.
_TAG = re.compile(r"((\\*)\[([a-z#/@][^[]*?)])")
# Control codes rich drops from printed text (rich.control.STRIP_CONTROL_CODES).
_STRIPPED = dict.fromkeys((7, 8, 11, 12, 13))


_ESCAPABLE = re.compile(r"(\\*)(\[[a-z#/@][^[]*?])")


def escape(text: str) -> str:
    """`text` made safe to put into markup (rich.markup.escape, without importing rich)."""
    text = _ESCAPABLE.sub(lambda m: f"{m.group(1)}{m.group(1)}\\{m.group(2)}", text)
    if text.endswith("\\") and not text.endswith("\\\\"):
        return text + "\\"
    return text


def plain(markup: str) -> str:
    """The text `markup` prints as with no colour: tags removed, escapes resolved."""
    out, position = [], 0
    for match in _TAG.finditer(markup):
        full, escapes, _ = match.groups()
        start, end = match.span()
        out.append(markup[position:start])
        backslashes, escaped = divmod(len(escapes), 2)
        out.append("\\" * backslashes)
        if escaped:
            out.append(full[len(escapes):])
        position = end
    out.append(markup[position:])
    return "".join(out).translate(_STRIPPED).expandtabs(8)


def use_color(choice: str = "auto", stream=None) -> bool:
    """--color: always, never, or auto (a terminal, and NO_COLOR not set)."""
    if choice == "always":
        return True
    if choice == "never" or os.environ.get("NO_COLOR"):
        return False
    stream = stream or sys.stdout
    return stream.isatty() and os.environ.get("TERM") != "dumb"


def print_markup(markup: str, color: str = "auto") -> None:
    """`markup` on stdout: in colour through rich when `use_color`, else plain."""
    if not use_color(color):
        sys.stdout.write(plain(markup))
        return
    from rich.console import Console

    Console(soft_wrap=True, force_terminal=True, emoji=False).print(markup, end="", highlight=False)
