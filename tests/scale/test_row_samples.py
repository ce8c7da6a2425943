"""The summary pass's row samples are the rows with the smallest position hashes on each side, whether
partitions send every row as a candidate or only those within the width the row count allows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import oddsline
from oddsline.distributed import LocalEngine
from oddsline.distributed.job import Job
from oddsline.distributed.summary import SAMPLE_ROWS, Summary, sample_width, samples_complete, summarise_partition
from oddsline.distributed.train import _summarise
from oddsline.sources import open_source

SPEC = oddsline.FeatureSpec.from_dict(
    {"columns": [{"name": "tenure", "kind": "numeric"}, {"name": "contract", "kind": "categorical"}]}
)


def _every_row_a_candidate(job: Job, partitions: list) -> Summary:
    engine = LocalEngine(2)
    return engine.fold(summarise_partition, partitions, job, ["tenure", "contract", "churn"], 1.0, start=Summary())


def _same_samples(a: Summary, b: Summary) -> None:
    assert np.array_equal(a.train_sample_hash, b.train_sample_hash)
    assert np.array_equal(a.test_sample_hash, b.test_sample_hash)
    assert a.train_sample is not None and b.train_sample is not None
    assert a.train_sample.equals(b.train_sample) and a.rows == b.rows


def test_candidates_within_the_width_give_the_same_samples(stacked_telco: tuple[pa.Table, Path]) -> None:
    table, folder = stacked_telco
    source = open_source(folder)
    partitions = source.partitions()
    assert sum(p.rows for p in partitions) == table.num_rows  # Parquet footers give the row count
    assert sample_width(table.num_rows) < 0.5
    job = Job(source, SPEC, "churn", 0.2, 7)
    bounded = _summarise(LocalEngine(2), partitions, job)
    assert samples_complete(bounded) and bounded.train_sample.num_rows == SAMPLE_ROWS
    _same_samples(bounded, _every_row_a_candidate(job, partitions))


def test_too_few_candidates_are_noticed_and_the_samples_read_again(
    stacked_telco: tuple[pa.Table, Path], tmp_path: Path
) -> None:
    table, _ = stacked_telco
    # Three targets in four missing and dropped: the width, sized on the row count, holds too few.
    churn = table.column("churn").to_pylist()
    churn = [v if i % 4 == 0 else None for i, v in enumerate(churn)]
    holed = table.set_column(table.schema.get_field_index("churn"), "churn", pa.array(churn))
    pq.write_table(holed, tmp_path / "holed.parquet", row_group_size=50_000)
    source = open_source(tmp_path / "holed.parquet")
    job = Job(source, SPEC, "churn", 0.2, 0, drop_missing_target=True)
    partitions = source.partitions()
    width = sample_width(table.num_rows)
    first = LocalEngine(2).fold(
        summarise_partition, partitions, job, ["tenure", "contract", "churn"], width, start=Summary()
    )
    assert not samples_complete(first)
    summary = _summarise(LocalEngine(2), partitions, job)
    assert samples_complete(summary) and summary.train_sample.num_rows == min(SAMPLE_ROWS, summary.rows["train"])
    _same_samples(summary, _every_row_a_candidate(job, partitions))
