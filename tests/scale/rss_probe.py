"""Peak RSS of one fit in a fresh process: python rss_probe.py FOLDER streamed|memory|wide -> prints MiB
(``wide``: a streamed fit of WIDE_SPEC, after printing the RSS before it)."""

from __future__ import annotations

import resource
import sys

import oddsline
from oddsline.distributed import LocalEngine, train_streamed
from oddsline.sources import open_source

SPEC = oddsline.FeatureSpec.from_dict(
    {"columns": [{"name": f"x{j}", "kind": "numeric"} for j in range(8)] + [{"name": "group", "kind": "categorical"}]}
)

WIDE_SPEC = oddsline.FeatureSpec.from_dict(
    {"columns": [{"name": "x", "kind": "numeric"}, {"name": "c", "kind": "categorical"}]}
)

if __name__ == "__main__":
    folder, how = sys.argv[1], sys.argv[2]
    source = open_source(folder, batch_rows=16_384)
    if how == "wide":
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        train_streamed(source, "y", engine=LocalEngine(2), spec=WIDE_SPEC, test_size=0.2)
    elif how == "streamed":
        train_streamed(source, "y", engine=LocalEngine(1), spec=SPEC, test_size=0)
    else:
        import pyarrow as pa

        table = pa.concat_tables(oddsline.read_table(p) for p in source.paths)
        oddsline.train(table, "y", spec=SPEC, test_size=0)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
