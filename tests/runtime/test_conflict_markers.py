"""dsflow.update.has_conflict_markers: what `just update` lists as conflicted. Only whole lines
that are copier's inline markers count; code or docs that quote a marker inside a line do not.
"""

from __future__ import annotations

import pytest
from dsflow.update import has_conflict_markers

CONFLICT = """\
def main():
<<<<<<< before updating
    print("old")
=======
    print("new")
>>>>>>> after updating
"""


@pytest.mark.parametrize(
    "text",
    [
        CONFLICT,
        CONFLICT.replace("\n", "\r\n"),
        "<<<<<<< before updating\n",
        "a\n>>>>>>> after updating",  # the last line, without a newline
        "a\n<<<<<<< before updating   \nb\n",  # trailing blanks
    ],
    ids=["block", "crlf", "opening-only", "closing-at-end", "trailing-blanks"],
)
def test_whole_line_markers_are_conflicts(tmp_path, text):
    path = tmp_path / "job.py"
    path.write_bytes(text.encode())
    assert has_conflict_markers(path) is True


@pytest.mark.parametrize(
    "text",
    [
        'MARKERS = ("<<<<<<< before updating", ">>>>>>> after updating")\n',
        'START = "<<<<<<< before updating"\nEND = ">>>>>>> after updating"\n',
        "Copier writes `<<<<<<< before updating` and `>>>>>>> after updating` lines.\n",
        "    <<<<<<< before updating\n    >>>>>>> after updating\n",  # indented, in a docstring
        "<<<<<<< before updating the docs\n",
        "<<<<<<< HEAD\nmine\n=======\ntheirs\n>>>>>>> main\n",  # git's markers, not copier's
        "=======\n",
        "",
    ],
    ids=[
        "python-tuple",
        "python-strings",
        "markdown-prose",
        "indented",
        "longer-line",
        "git-markers",
        "separator-only",
        "empty",
    ],
)
def test_markers_inside_a_line_are_not_conflicts(tmp_path, text):
    path = tmp_path / "job.py"
    path.write_text(text)
    assert has_conflict_markers(path) is False


def test_binary_missing_and_folder_paths_are_not_conflicts(tmp_path):
    binary = tmp_path / "data.bin"
    binary.write_bytes(b"\xff\xfe\x00<<<<<<< before\x00")
    assert has_conflict_markers(binary) is False
    assert has_conflict_markers(tmp_path / "absent.py") is False
    assert has_conflict_markers(tmp_path) is False


def test_a_marker_in_an_undecodable_file_still_counts(tmp_path):
    path = tmp_path / "latin1.sql"
    path.write_bytes(b"-- caf\xe9\n<<<<<<< before updating\nSELECT 1\n>>>>>>> after updating\n")
    assert has_conflict_markers(path) is True
