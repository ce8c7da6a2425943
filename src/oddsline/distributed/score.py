"""Score a source of files into a Parquet folder, one output file per input file, in parallel.

Each file is scored by the batch scorer (``batch.score_file``: bounded memory, the bad-value policy, ids
carried) into ``part-NNNNN.parquet`` of a temporary folder beside the output, which is renamed into place
only when every file is scored: a failure leaves no partial output. Input files are the units of work, so
the local engine's threads or a Dask cluster's workers score several at once.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from .._exceptions import DataError
from ..features import TransformReport
from ..models import ScoringModel
from ..sources import FileSource, Partition
from .engines import Engine

__all__ = ["score_source"]


def score_source(
    model: ScoringModel,
    source: FileSource,
    out: str | os.PathLike[str],
    *,
    engine: Engine,
    id_column: str | None = None,
    on_bad_value: str | None = None,
) -> tuple[int, TransformReport, list[str]]:
    """(rows scored, input report, the output files) for every file of ``source``."""
    target = Path(out)
    if target.suffix:
        raise DataError(f"{target}: scores of several files go to a folder; give --out a folder name (no suffix)")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise DataError(f"{target} exists and is not an empty folder; choose a new output folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    files = [Partition(i, path) for i, path in enumerate(source.paths)]
    options = {
        "id_column": id_column,
        "on_bad_value": on_bad_value,
        "batch_rows": source.batch_rows,
        "delimiter": source.delimiter,
        "encoding": source.encoding,
        "na_values": source.na_values,
    }
    try:
        results = engine.map(score_partition, files, model, str(staging), options)
        if target.exists():
            target.rmdir()
        os.chmod(staging, 0o777 & ~_umask())
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    report = TransformReport()
    rows = 0
    for n, part in results:
        rows += n
        report.merge(part)
    return rows, report, [str(target / f"part-{p.index:05d}.parquet") for p in files]


def score_partition(
    partition: Partition, model: ScoringModel, staging: str, options: dict[str, Any]
) -> tuple[int, TransformReport]:
    """Score one input file into the staging folder (a worker task)."""
    from ..batch import score_file

    return score_file(model, partition.path, Path(staging) / f"part-{partition.index:05d}.parquet", **options)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
