"""Text from outside is printed literally and harmlessly: no markup, no control characters, no workflow command."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.text import Text

from gitops_ml.terminal import MAX_CHARS, plain_text, terminal_text


def printed(text: object) -> str:
    """What rich prints for ``terminal_text(text)`` after a styled prefix, as the CLI's error printer prints it."""
    buffer = io.StringIO()
    Console(file=buffer, width=10_000, color_system=None).print(
        Text.assemble(("error:", "bold red"), " ", terminal_text(text)), soft_wrap=True
    )
    return buffer.getvalue()


@pytest.mark.parametrize(
    "text", ["key [/] here", "[link=https://evil.example]click[/link]", "[bold]x", "trailing \\", "a\\[b]"]
)
def test_markup_is_shown_as_written(text: str) -> None:
    assert printed(text) == f"error: {text}\n"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("a\x1b[31mred", "a\\x1b[31mred"),
        ("over\rwrite", "over\\x0dwrite"),
        ("nul\x00", "nul\\x00"),
        ("bidi\u202eevil", "bidi\\u202eevil"),
        ("lone \ud800 surrogate", "lone \\ud800 surrogate"),
        ("line\u2028separator", "line\\u2028separator"),
        ("tab\tand\nnewline", "tab\tand\nnewline"),
    ],
)
def test_control_and_format_characters_are_escaped(text: str, shown: str) -> None:
    assert plain_text(text) == shown
    assert printed(text).encode("utf-8")  # a lone surrogate would fail here


@pytest.mark.parametrize(
    "text",
    [
        "x\n::error file=a.py::fake annotation",
        "x\n   ::add-mask::secret",
        "::warning::first",
        "x\n\t::stop-commands::token",
    ],
)
def test_no_line_starts_a_github_workflow_command(text: str) -> None:
    assert not [line for line in plain_text(text).splitlines() if line.strip().startswith("::")]


def test_the_old_workflow_command_form_is_broken_too() -> None:
    assert "##[" not in plain_text("x ##[error]fake")


def test_long_text_is_cut_with_a_note() -> None:
    shown = plain_text("y" * (MAX_CHARS + 500))
    assert shown.startswith("y" * MAX_CHARS)
    assert shown.endswith("(500 more characters not shown)")
    assert plain_text("short") == "short"
