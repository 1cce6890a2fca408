"""`just status | head` and the like: a reader that stops early ends the command quietly."""

from __future__ import annotations

import subprocess
import sys
import textwrap

CHATTY = textwrap.dedent(
    """
    import argparse, sys
    from dsflow import cli

    def chatty(args):
        for i in range(200_000):
            print("line", i)

    parser = argparse.ArgumentParser()
    parser.set_defaults(func=chatty, command="chatty")
    cli.build_parser = lambda: parser
    sys.exit(cli.main([]))
    """
)


def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path):
    script = tmp_path / "chatty.py"
    script.write_text(CHATTY)
    result = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {sys.executable} {script} | head -2"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout == "line 0\nline 1\n"
    assert result.stderr == ""  # no "internal error", no "Exception ignored ... BrokenPipeError"
    assert result.returncode == 0
