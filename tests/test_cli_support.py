"""What every command shares: here, the exit without Python's last garbage collection."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_skipping_the_final_collection_keeps_exit_handlers_and_drops_only_the_last_gc() -> None:
    """A cycle's finalizer runs at exit without it and not with it; exit handlers run either way."""
    script = textwrap.dedent(
        """
        import atexit, sys
        from gitops_ml.cli_support import skip_the_final_collection
        if sys.argv[1] == "skip":
            skip_the_final_collection()
        atexit.register(print, "exit handler ran")

        class Cycle:
            def __del__(self):
                print("cycle finalized")

        cycle = Cycle()
        cycle.me = cycle
        """
    )
    outputs = {
        how: subprocess.run([sys.executable, "-c", script, how], capture_output=True, text=True, check=True).stdout
        for how in ("skip", "keep")
    }
    assert outputs["keep"].splitlines() == ["exit handler ran", "cycle finalized"]
    assert outputs["skip"].splitlines() == ["exit handler ran"]
