"""The temporary worktree's DVC never waits for an answer, even on a terminal (act's steps, a developer's shell)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

ASK_ON_A_TERMINAL = """
import sys
from dvc import prompt
from dvc.ui import Console
from gitops_ml.gitops.commit_worktree import no_dvc_questions

assert Console.isatty(), "the question must be asked on a terminal for this test to mean anything"
with no_dvc_questions():
    answer = prompt.confirm("Missing cache for directory 'reports/plots'. Would you like to continue?")
print(f"answer={answer!r}", file=sys.stderr)
"""


def test_dvc_questions_on_a_terminal_are_answered_no_at_once() -> None:
    primary, secondary = pty.openpty()
    try:
        result = subprocess.run(
            [sys.executable, "-c", ASK_ON_A_TERMINAL],
            stdin=secondary,
            stdout=secondary,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,  # without no_dvc_questions the question waits for a terminal no one types into
            check=False,
        )
    finally:
        os.close(secondary)
        os.close(primary)
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1] in {"answer=False", "answer=None"}, result.stderr
