"""Publishing several outputs of one run: all of them or none, even when killed half-way."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import signal
from pathlib import Path

import pytest
from dsflow import publish as publish_module
from dsflow.publish import JOURNAL, publish_all, recover


def tree(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def outputs(root: Path, names: list[str], run_id: str = "run-2", old: bool = True):
    """Two-table fixture: ``tables/<name>/ds=2024-01-02`` published by run-1 (unless ``old`` is
    False), and run ``run_id``'s staged replacement beside it."""
    result = []
    for name in names:
        table = root / "tables" / name
        final = table / "ds=2024-01-02"
        if old:
            final.mkdir(parents=True)
            (final / "part-0.parquet").write_text(f"{name} from run-1")
            (final / "_dsflow.json").write_text(json.dumps({"run_id": "run-1"}))
            (final / "_SUCCESS").write_text("")
        staging = table / f"_staging-job-2024-01-02-{run_id}"
        staging.mkdir(parents=True)
        (staging / "part-0.parquet").write_text(f"{name} from {run_id}")
        result.append((staging, final, {"run_id": run_id}))
    return result


def test_every_output_is_published_and_the_previous_ones_removed(tmp_path):
    staged = outputs(tmp_path, ["a", "b"])
    publish_all(staged, tmp_path / "reports")
    for name, (staging, final, _) in zip("ab", staged, strict=True):
        assert (final / "part-0.parquet").read_text() == f"{name} from run-2"
        assert json.loads((final / "_dsflow.json").read_text())["run_id"] == "run-2"
        assert (final / "_SUCCESS").is_file()
        assert not staging.exists()
    assert not (tmp_path / "reports" / JOURNAL).exists()


@pytest.mark.parametrize("old", [True, False], ids=["replacing", "first-publish"])
def test_a_failed_swap_puts_back_what_was_published(tmp_path, monkeypatch, old):
    staged = outputs(tmp_path, ["a", "b", "c"], old=old)
    before = {name: tree(tmp_path / "tables" / name) for name in "abc"}
    real_swap = publish_module._swap
    calls = []

    def swap(staging: Path, final: Path) -> bool:
        calls.append(final)
        if len(calls) == 3:  # the third table's swap: the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_swap(staging, final)

    monkeypatch.setattr(publish_module, "_swap", swap)
    with pytest.raises(OSError, match="No space left"):
        publish_all(staged, tmp_path / "reports")
    for name, (_, final, _) in zip("abc", staged, strict=True):
        if old:
            assert (final / "part-0.parquet").read_text() == f"{name} from run-1"
        else:
            assert not final.exists()
    # the staged copies are back where the run's clean-up removes them
    after = {name: tree(tmp_path / "tables" / name) for name in "abc"}
    for name in "abc":
        published = {k: v for k, v in after[name].items() if k.startswith("ds=")}
        assert published == {k: v for k, v in before[name].items() if k.startswith("ds=")}
    assert not (tmp_path / "reports" / JOURNAL).exists()


def _killed_after_first_swap(root: str) -> None:
    real_swap = publish_module._swap
    calls = []

    def swap(staging: Path, final: Path) -> bool:
        calls.append(final)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        return real_swap(staging, final)

    publish_module._swap = swap
    publish_all(outputs(Path(root), ["a", "b"]), Path(root) / "reports")


def test_a_publish_killed_half_way_is_undone_by_the_next_run(tmp_path):
    child = multiprocessing.get_context("fork").Process(
        target=_killed_after_first_swap, args=(str(tmp_path),)
    )
    child.start()
    child.join(30)
    assert child.exitcode == -signal.SIGKILL
    a_final = tmp_path / "tables/a/ds=2024-01-02"
    b_final = tmp_path / "tables/b/ds=2024-01-02"
    # the kill left the mix this module exists to prevent: a new, b old
    assert (a_final / "part-0.parquet").read_text() == "a from run-2"
    assert (b_final / "part-0.parquet").read_text() == "b from run-1"
    assert (tmp_path / "reports" / JOURNAL).is_file()

    assert recover(tmp_path / "reports") == [str(a_final)]
    assert (a_final / "part-0.parquet").read_text() == "a from run-1"
    assert (b_final / "part-0.parquet").read_text() == "b from run-1"
    assert json.loads((a_final / "_dsflow.json").read_text())["run_id"] == "run-1"
    assert not (tmp_path / "reports" / JOURNAL).exists()
    assert recover(tmp_path / "reports") == []


def test_a_journal_cut_short_by_a_kill_means_nothing_was_swapped(tmp_path):
    (tmp_path / JOURNAL).write_text('[{"staging": "/x", "fin')
    assert recover(tmp_path) == []
    assert not (tmp_path / JOURNAL).exists()


# ------------------------------------------------------------ success-last (no rename at all)


def test_success_last_moves_the_new_files_in_and_writes_success_last(tmp_path, monkeypatch):
    """No folder renamed: the old _SUCCESS goes first (readers skip the partition), then the
    old files (an old file the new run does not write is gone too), then the new files are
    moved in one by one and _SUCCESS comes last; the staging folder is removed."""
    staged = outputs(tmp_path, ["a"])
    staging, final, _ = staged[0]
    (final / "part-1.parquet").write_text("a second file of run-1")
    seen = {}

    def checkpoint(point: str) -> None:
        seen[point] = (sorted(tree(final)), (final / "_SUCCESS").exists())

    monkeypatch.setattr(publish_module, "checkpoint", checkpoint)
    monkeypatch.setattr(os, "rename", _no_rename)  # Path.rename: how swap moves a folder
    monkeypatch.setattr(publish_module, "_exchange", _no_rename)
    publish_all(staged, tmp_path / "reports", mode=publish_module.SUCCESS_LAST)
    assert seen["unpublished"] == (["_dsflow.json", "part-0.parquet", "part-1.parquet"], False)
    assert seen["copied"] == (["_dsflow.json", "part-0.parquet"], False)
    assert tree(final) == {
        "_SUCCESS": b"",
        "_dsflow.json": (final / "_dsflow.json").read_bytes(),
        "part-0.parquet": b"a from run-2",
    }
    assert json.loads((final / "_dsflow.json").read_text())["run_id"] == "run-2"
    assert not staging.exists()


def _no_rename(*args: object) -> bool:
    raise AssertionError(f"success-last renamed {args}")


def test_success_last_never_shows_a_new_output_beside_an_old_one(tmp_path, monkeypatch):
    """Every output is unpublished before any is published again: stopped after the first
    output's _SUCCESS, a is wholly new and b incomplete (not b's previous run beside a's new
    one). The journal stays, through the next run's recover too (readers of the pair wait),
    until a run publishes both."""
    staged = outputs(tmp_path, ["a", "b"])

    def checkpoint(point: str) -> None:
        if point == "swapped":
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(publish_module, "checkpoint", checkpoint)
    with pytest.raises(OSError):
        publish_all(staged, tmp_path / "reports", mode=publish_module.SUCCESS_LAST)
    a_final, b_final = staged[0][1], staged[1][1]
    assert (a_final / "part-0.parquet").read_text() == "a from run-2"
    assert (a_final / "_SUCCESS").is_file()
    assert (b_final / "part-0.parquet").read_text() == "b from run-2"
    assert not (b_final / "_SUCCESS").exists()  # incomplete: readers skip it
    journal = tmp_path / "reports" / JOURNAL
    assert [e["mode"] for e in json.loads(journal.read_text())] == ["success-last"] * 2
    assert recover(tmp_path / "reports") == []  # nothing to put back
    assert journal.is_file()  # the next run's readers still wait
    monkeypatch.setattr(publish_module, "checkpoint", lambda point: None)
    publish_all(outputs(tmp_path / "again", ["a", "b"], "run-3"), tmp_path / "reports",
                mode=publish_module.SUCCESS_LAST)  # fmt: skip
    assert not journal.exists()


@pytest.mark.parametrize("brings", [False, True], ids=["keeps-the-contract", "replaces-it"])
def test_success_last_keeps_an_unpartitioned_tables_contract(tmp_path, brings):
    """An unpartitioned output's final folder is the table itself, contract included: the
    contract is not deleted with the old files (a kill there would lose it), and a run that
    brings a new one replaces it."""
    final = tmp_path / "tables" / "dim"
    final.mkdir(parents=True)
    (final / "part-0.parquet").write_text("old")
    (final / "_schema.json").write_text('{"columns": "old"}')
    (final / "_SUCCESS").write_text("")
    staging = tmp_path / "tables" / "_staging-dim-all-run-2"
    staging.mkdir()
    (staging / "part-0.parquet").write_text("new")
    if brings:
        (staging / "_schema.json").write_text('{"columns": "new"}')
    publish_module.publish(staging, final, {"run_id": "run-2"}, mode=publish_module.SUCCESS_LAST)
    assert (final / "part-0.parquet").read_text() == "new"
    assert (final / "_schema.json").read_text() == f'{{"columns": "{"new" if brings else "old"}"}}'
    assert (final / "_SUCCESS").is_file()
