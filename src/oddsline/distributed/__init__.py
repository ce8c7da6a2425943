"""Training past one machine's memory: exact streamed fits on the local threads or a Dask cluster.

``train_streamed`` fits the features and the model from a source of files in passes (``train.py``); the
per-batch kernel (``kernel.py``) is the one both engines (``engines.py``) run. Feature statistics are
exact (``feature_fit.py``, ``order_stats.py``); ``score.py`` writes a model's scores of a source into a
Parquet folder, partition by partition.
"""

from .engines import ENGINES, DaskEngine, Engine, LocalEngine, make_engine
from .train import train_streamed

__all__ = ["ENGINES", "DaskEngine", "Engine", "LocalEngine", "make_engine", "train_streamed"]
