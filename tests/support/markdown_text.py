"""What GitHub would render live in a Markdown text: everything outside its code spans and code blocks."""

from __future__ import annotations

import re

_FENCED_BLOCK = re.compile(r"^(`{3,})[^\n]*\n.*?^\1`*[ \t]*$", re.MULTILINE | re.DOTALL)
_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)")


def outside_code(markdown: str) -> str:
    """``markdown`` without its fenced code blocks and inline code spans (CommonMark's rule: a span closes at the
    next backtick run of the same length), i.e. the text in which GitHub makes mentions, references and links."""
    return _CODE_SPAN.sub(" ", _FENCED_BLOCK.sub("", markdown))
