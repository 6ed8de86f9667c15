"""Text from outside made safe to print on a terminal or into a CI log: the one place every command's output of
such text goes through (:func:`terminal_text`).

An error message can hold text nobody here wrote: a key of a pull request's artifact, a value of a data file, a
message a server answered. Printed as it is, that text can

- break the printer or style the output: rich reads ``[...]`` as markup (``[/]`` raises, ``[link=...]`` makes a link);
- rewrite the terminal: control characters (escape sequences, carriage returns, NUL) and invisible format
  characters (bidirectional overrides);
- speak to GitHub Actions: a log line that starts with ``::`` is a workflow command (``::error::`` makes a fake
  annotation, ``::add-mask::`` hides text), and ``##[`` starts one of the older form anywhere in a line;
- flood the log: it can be megabytes long;
- crash the output: a lone surrogate (from a JSON ``"\\ud800"``) cannot be encoded as UTF-8.

Kept free of heavy imports (rich's text module only), so every command can use it.
"""

from __future__ import annotations

import re
import unicodedata

from rich.text import Text

MAX_CHARS = 4_000
"""The longest text printed; the rest is cut with a note saying how much was left out."""
KEPT_CONTROLS = frozenset("\n\t")
_UNSAFE = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})  # controls, format marks (bidi, zero-width), surrogates, separators
_WORKFLOW_COMMAND = re.compile(r"^(?=[ \t]*::)", re.MULTILINE)
_OLD_WORKFLOW_COMMAND = "##["


_ASCII_UNSAFE = re.compile(r"[\x00-\x1f\x7f]|::|##\[")  # what an ASCII text needs changed, at most


def _escaped(char: str, keep: frozenset[str]) -> str:
    if char in keep or unicodedata.category(char) not in _UNSAFE:
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def plain_text(text: object, limit: int = MAX_CHARS, keep: frozenset[str] = KEPT_CONTROLS) -> str:
    """``text`` made inert for a terminal and a CI log, as plain text (see :func:`terminal_text`).

    ``keep``: the control characters left as they are (newline and tab; none for a log line, which must stay one
    line). A short ASCII text with nothing to change is returned as it is, at the cost of one regex search.
    """
    raw = str(text)
    cut = len(raw) - limit
    if cut > 0:
        raw = raw[:limit]
    elif raw.isascii() and not _ASCII_UNSAFE.search(raw):
        return raw
    safe = "".join(_escaped(char, keep) for char in raw)
    safe = _WORKFLOW_COMMAND.sub("| ", safe).replace(_OLD_WORKFLOW_COMMAND, "## [")
    return safe + (f"… ({cut} more characters not shown)" if cut > 0 else "")


def terminal_text(text: object, limit: int = MAX_CHARS, style: str = "") -> Text:
    """``text`` as a rich :class:`~rich.text.Text` that prints it literally and harmlessly, whatever it holds.

    Control, format and surrogate characters other than newline and tab are shown as escapes (``\\x1b``,
    ``\\u202e``); a line that would start with ``::`` starts with ``| ``, and ``##[`` becomes ``## [``, so GitHub
    Actions reads no workflow command; the text is cut after ``limit`` characters (:func:`plain_text`). A ``Text``
    is never parsed as markup, so rich shows ``[/]`` and ``[link=...]`` as written.
    """
    return Text(plain_text(text, limit), style=style)
