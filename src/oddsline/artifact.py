"""Loading a model file as the kind its manifest names: one reader for every kind.

``load`` reads and verifies the ``.odl`` container (``artifact_file.py``: checksums, sizes, signature,
format version) and hands the manifest's model entry to the loader of its "kind" (``models.LOADERS``).
A file whose kind this oddsline does not know is refused with the fix (upgrade), never guessed at;
a file without a kind predates multiclass models and is binary.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from ._exceptions import FormatVersionError
from ._version import __version__
from .artifact_file import FORMAT_NAME, FORMAT_VERSION, read_artifact, write_artifact
from .models import LOADERS, Model, ScoringModel

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "load", "save_model"]


def save_model(model: ScoringModel, path: str | os.PathLike[str]) -> Path:
    """Write ``model`` (any kind) as one ``.odl`` file, atomically; the same as ``model.save(path)``."""
    return write_artifact(*model.to_artifact(), path)


def load(path: str | os.PathLike[str], *, trusted_keys: Iterable[str | os.PathLike[str]] | None = None) -> ScoringModel:
    """Load and verify an ``.odl`` model file as the kind it holds. With ``trusted_keys`` (public key
    files) the file must also carry a valid signature by one of them; ``model.info["signed_by"]`` names
    the key id."""
    stored = read_artifact(path, trusted_keys=trusted_keys)
    kind = stored.kind or Model.kind
    loader = LOADERS.get(kind)
    if loader is None:
        raise FormatVersionError(
            f"{path} holds a model of kind {kind!r}, which this oddsline ({__version__}) does not know "
            f"(it reads {', '.join(sorted(LOADERS))}); upgrade oddsline to load it"
        )
    return loader(stored.body, stored.arrays, stored.info)
