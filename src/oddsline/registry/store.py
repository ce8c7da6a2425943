"""The artifact store: a folder of model files addressed by their SHA-256.

``<root>/sha256/ab/abcdef....odl``. A file is written under a temporary name and renamed into place,
so a crash leaves either no file or the whole file; identical content is stored once. Every path the
store hands out is resolved and checked to lie inside the root (a symlink planted in the store that
points elsewhere is refused).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .._exceptions import RegistryError
from ..io import atomic_path, file_sha256, private_folder

__all__ = ["ArtifactStore"]

_HEX = set("0123456789abcdef")


class ArtifactStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        private_folder(private_folder(self.root) / "sha256")

    def path_of(self, sha256: str) -> Path:
        if not (isinstance(sha256, str) and len(sha256) == 64 and set(sha256) <= _HEX):
            raise RegistryError(f"{sha256!r} is not a SHA-256 hex digest")
        candidate = self.root / "sha256" / sha256[:2] / f"{sha256}.odl"
        resolved = candidate.resolve()
        if not resolved.is_relative_to(self.root):
            raise RegistryError(f"store entry {sha256[:12]}... resolves outside the store ({resolved}); refusing it")
        return resolved

    def put(self, source: Path) -> str:
        """Copy ``source`` into the store; returns its SHA-256 (verified again after the copy)."""
        sha = file_sha256(source)
        target = self.path_of(sha)
        if target.exists():
            if file_sha256(target) == sha:
                return sha
            target.unlink()  # a damaged copy: replace it
        private_folder(target.parent)
        with atomic_path(target, private=True) as tmp:
            shutil.copyfile(source, tmp)
            if file_sha256(tmp) != sha:
                raise RegistryError(f"{source} changed while it was being copied into the store; try again")
        return sha

    def get(self, sha256: str) -> Path:
        path = self.path_of(sha256)
        if not path.is_file():
            raise RegistryError(f"the store has no file {sha256[:12]}...; the store folder was changed by hand")
        if file_sha256(path) != sha256:
            raise RegistryError(f"the stored file {sha256[:12]}... no longer matches its SHA-256; restore it")
        return path
