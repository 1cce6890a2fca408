"""dsflow.notebook.write_partition without Spark: the rows written, counted from the files,
and the preview a table job's report shows, read back from those files (the Spark path runs
in every table job of the slow tier)."""

from __future__ import annotations

import pandas as pd
import pyarrow.parquet as pq
from dsflow.notebook import write_partition


def test_the_preview_is_the_first_rows_as_written(tmp_path, capsys):
    frame = pd.DataFrame({"station": ["a", "b", "c"], "t": [1.5, 2.5, 3.5], "ds": ["x"] * 3})
    assert write_partition(frame, tmp_path / "sink", preview=2) == 3
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["station", "t"]  # ds is the folder's, not the file's
    assert [line.split() for line in out[1:3]] == [["a", "1.5"], ["b", "2.5"]]
    assert out[3] == "(the first 2 of 3 rows)"
    assert pq.read_table(tmp_path / "sink").num_rows == 3


def test_no_preview_unless_asked_and_all_rows_when_fewer(tmp_path, capsys):
    frame = pd.DataFrame({"v": [1]})
    assert write_partition(frame, tmp_path / "quiet") == 1
    assert capsys.readouterr().out == ""
    write_partition(frame, tmp_path / "short", preview=5)
    assert capsys.readouterr().out.split() == ["v", "1"]
