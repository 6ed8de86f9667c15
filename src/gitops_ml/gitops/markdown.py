"""Text from outside placed into a GitHub body (a comment, an issue, a pull request, a release): the one helper.

Anything a pull request, a data file, a workflow input or a URL provides is shown inside code, where GitHub turns
nothing into a mention, an issue reference, an emoji, a link or HTML, which escaping with entities or backslashes
does not guarantee: :func:`code_span` inline, :func:`code_block` for lines. The fence is chosen so that no
backtick run inside can close it, and newlines and control characters are replaced first, so the text never
leaves its span or its line. Kept free of heavy imports: the drift issue and the retraining pull request use it.
"""

from __future__ import annotations

import re
import unicodedata

_REPLACEMENT = "\ufffd"
_UNSAFE = {"Cc", "Cf", "Cs", "Zl", "Zp"}  # controls and newlines, bidi/zero-width format marks, lone surrogates
_BACKTICKS = re.compile(r"`+")


def one_line(text: str) -> str:
    """``text`` with every newline, control, format (bidi, zero-width) and lone-surrogate character replaced by �."""
    return "".join(_REPLACEMENT if unicodedata.category(char) in _UNSAFE else char for char in str(text))


def _longest_backtick_run(lines: list[str]) -> int:
    return max((len(run) for line in lines for run in _BACKTICKS.findall(line)), default=0)


def code_span(text: str) -> str:
    """``text`` as one inline code span, whatever it holds: GitHub shows it literally and links nothing in it.

    The fence is one backtick longer than the longest backtick run in ``text``, so no run inside can close it;
    a space pads both ends when ``text`` starts or ends with a backtick or a space (CommonMark strips exactly
    one from each end). Newlines and control characters are replaced first (:func:`one_line`), so the span
    never leaves its line. Place it after a space or punctuation other than a backslash.
    """
    content = one_line(text)
    if not content:
        return "*(empty)*"
    fence = "`" * (_longest_backtick_run([content]) + 1)
    pad = " " if content.strip(" ") and (content[0] in "` " or content[-1] in "` ") else ""
    return f"{fence}{pad}{content}{pad}{fence}"


def code_block(lines: list[str], info: str = "text") -> list[str]:
    """``lines`` as one fenced code block (each line through :func:`one_line`), fenced so no line can close it."""
    content = [one_line(line) for line in lines]
    fence = "`" * max(3, _longest_backtick_run(content) + 1)
    return [f"{fence}{info}", *content, fence]


def comment_length(text: str) -> int:
    """Length as GitHub counts against its comment limit, taken as UTF-16 code units (never fewer than characters)."""
    return len(text.encode("utf-16-le", errors="surrogatepass")) // 2
