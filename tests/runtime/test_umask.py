"""What dsflow moves into place (a download, a new job folder) gets the umask's mode, not the
0600/0700 of the safe temporary files it was built in."""

from __future__ import annotations

import gzip
import os
import stat
import tempfile
from pathlib import Path

import pytest
from dsflow.download import download, read_params
from dsflow.umask import current_umask, follow_umask


@pytest.fixture(params=[0o022, 0o027, 0o077])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_umask_is_read_without_changing_it(umask):
    assert current_umask() == umask
    assert current_umask() == umask


def test_temporary_files_and_folders_get_the_umask_mode(tmp_path, umask):
    fd, name = tempfile.mkstemp(dir=tmp_path)
    os.close(fd)
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    (folder / "job.py").write_text("print(1)\n")
    (folder / "run.sh").write_text("echo 1\n")
    (folder / "run.sh").chmod(0o755)
    follow_umask(Path(name))
    follow_umask(folder)
    assert mode(Path(name)) == 0o666 & ~umask
    assert mode(folder) == 0o777 & ~umask
    assert mode(folder / "job.py") == 0o666 & ~umask
    assert mode(folder / "run.sh") == 0o777 & ~umask  # still executable, for its owner at least


@pytest.mark.parametrize("decompress", ["none", "gunzip"])
def test_a_downloaded_file_follows_the_umask(tmp_path, umask, decompress):
    source = tmp_path / "data.csv.gz"
    source.write_bytes(gzip.compress(b"a,b\n1,2\n"))
    sink = tmp_path / "sink"
    sink.mkdir()
    params = read_params(
        {
            "job_name": "dl",
            "ds": "2024-01-02",
            "sink_path": str(sink),
            "url": source.as_uri(),
            "decompress": decompress,
        }
    )
    _, names = download(params)
    assert [mode(sink / n) for n in names] == [0o666 & ~umask]
