"""The prediction log's journal and its recovery, alone: a killed process's segment becomes the
Parquet file it was gathering (its torn last batch left out), a segment whose file exists already is
only deleted (no row twice), and a live log's segment is left alone."""

from __future__ import annotations

import os
import time

import pyarrow as pa
import pyarrow.parquet as pq

from oddsline.serve.journal import Journal, recover

SCHEMA = pa.schema([("prediction_id", pa.string()), ("probability", pa.float64())])


def _batch(first: int, n: int) -> pa.RecordBatch:
    ids = [f"r{i}" for i in range(first, first + n)]
    return pa.record_batch([pa.array(ids), pa.array([0.5] * n)], schema=SCHEMA)


def _writer(folder):
    def write(table: pa.Table, pattern: str) -> bool:
        pq.write_table(table, folder / pattern.replace("*", "20261206T000000000000"))
        return True

    return write


def _abandoned(folder, token: str) -> Journal:
    """A journal with two committed batches, then dropped as a killed process drops it: the lock goes
    with the process (here: with the file's close)."""
    journal = Journal(folder, SCHEMA, token)
    journal.append(_batch(0, 3))
    journal.append(_batch(3, 2))
    journal.commit()
    journal._file.close()  # the process dies: its descriptor, and with it the flock, is gone
    return journal


def test_a_killed_process_s_segment_becomes_its_file_without_the_torn_tail(tmp_path):
    journal = _abandoned(tmp_path, "aaaa")
    with open(journal.path, "ab") as torn:  # killed in the middle of a third batch
        torn.write(b"\xff\xff\xff\xff\x10\x00\x00\x00partial")
    assert recover(tmp_path, _writer(tmp_path)) == 5
    (written,) = tmp_path.glob("predictions-*-aaaa-000001.parquet")
    assert pq.read_table(written).column("prediction_id").to_pylist() == [f"r{i}" for i in range(5)]
    assert not list(tmp_path.glob("journal-*"))


def test_a_segment_whose_file_was_written_is_only_deleted(tmp_path):
    journal = _abandoned(tmp_path, "bbbb")
    # Killed between renaming the file into place and deleting the segment.
    pq.write_table(pa.Table.from_batches([_batch(0, 3), _batch(3, 2)]), tmp_path / "predictions-x-bbbb-000001.parquet")
    assert recover(tmp_path, _writer(tmp_path)) == 0
    assert len(list(tmp_path.glob("predictions-*.parquet"))) == 1
    assert not journal.path.exists()


def test_a_live_log_s_segment_and_a_fresh_empty_one_are_left_alone(tmp_path):
    live = Journal(tmp_path, SCHEMA, "cccc")
    live.append(_batch(0, 4))
    live.commit()
    fresh = tmp_path / "journal-dddd-000001.arrows"
    fresh.touch()
    assert recover(tmp_path, _writer(tmp_path)) == 0
    assert live.path.exists() and fresh.exists() and not list(tmp_path.glob("predictions-*"))
    old = time.time() - 3600
    os.utime(fresh, (old, old))  # an empty segment left for an hour: a process killed as it began
    recover(tmp_path, _writer(tmp_path))
    assert not fresh.exists() and live.path.exists()
    live.rotate()
    assert not live.path.exists()
