"""The ``.odl`` container: a zip of ``manifest.json`` and ``.npy`` arrays, never pickle.

This module knows files, not models: it writes a model's manifest entry and arrays, and reads them
back verified. Which class a manifest entry becomes is decided one level up, in ``artifact.py``.

Layout (format version 1)::

    manifest.json     format name and version, oddsline version, creation time, the model's entry
                      (its "kind", features, target, parameters and training facts), and for every
                      array member its dtype, shape and SHA-256
    manifest.sha256   SHA-256 of manifest.json, so an edited or damaged manifest is caught too
    arrays/NAME.npy   numpy arrays, read with allow_pickle=False

Reading checks, before anything is parsed: the zip magic (a pickle or joblib file is named and refused
without being executed), the member list (no unknown or missing members), member sizes, every SHA-256,
the array headers (dtype and shape must match the manifest and the byte count), and the format version.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import stat
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._exceptions import FormatVersionError, IntegrityError, NotAnArtifactError
from ._version import __version__
from .io import atomic_path, file_sha256
from .signing import SIGNATURE, load_public_keys, verify_signature

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "StoredModel", "read_artifact", "write_artifact"]

FORMAT_NAME = "oddsline-model"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
MANIFEST_DIGEST = "manifest.sha256"
_ZIP_MAGIC = b"PK\x03\x04"
_MAX_MANIFEST_BYTES = 64 * 1024 * 1024
_MAX_ARRAY_BYTES = 4 * 1024**3  # one member, and all of them together
# Deflate expands at most ~1032x; a member near that ratio is one repeated byte. Past this size and
# ratio it is a decompression bomb, not a model (64 MiB of zero coefficients would be nonsense).
_BOMB_BYTES, _BOMB_RATIO = 64 * 1024**2, 500


@dataclass(frozen=True)
class StoredModel:
    """A verified file's model entry: ``body`` (the manifest's "model", with its "kind"), the arrays by
    name, and ``info``: the entry's training facts plus what the file itself says (creation time, the
    file's SHA-256, the key that signed it)."""

    body: dict[str, Any]
    arrays: dict[str, NDArray[Any]]
    info: dict[str, Any]

    @property
    def kind(self) -> str | None:
        kind = self.body.get("kind")
        return None if kind is None else str(kind)


def write_artifact(body: Mapping[str, Any], arrays: Mapping[str, NDArray[Any]], path: str | os.PathLike[str]) -> Path:
    """Write ``body`` (a model's manifest entry, JSON-able, with its "kind") and ``arrays`` (stored as
    float64) as one ``.odl`` file, atomically; returns the path."""
    target = Path(path)
    floats = {name: np.ascontiguousarray(value, dtype=np.float64) for name, value in arrays.items()}
    blobs = {f"arrays/{name}.npy": _npy_bytes(arr) for name, arr in floats.items()}
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "oddsline_version": __version__,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "members": {
            f"arrays/{name}.npy": {
                "sha256": hashlib.sha256(blobs[f"arrays/{name}.npy"]).hexdigest(),
                "dtype": arr.dtype.str,
                "shape": list(arr.shape),
                "bytes": len(blobs[f"arrays/{name}.npy"]),
            }
            for name, arr in floats.items()
        },
        "model": dict(body),
    }
    manifest_bytes = json.dumps(manifest, indent=2, sort_keys=True, allow_nan=False).encode()
    with atomic_path(target) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MANIFEST, manifest_bytes)
        zf.writestr(MANIFEST_DIGEST, hashlib.sha256(manifest_bytes).hexdigest() + "\n")
        for member, blob in blobs.items():
            zf.writestr(member, blob)
    return target


def read_artifact(
    path: str | os.PathLike[str], *, trusted_keys: Iterable[str | os.PathLike[str]] | None = None
) -> StoredModel:
    """Read and verify an ``.odl`` file. With ``trusted_keys`` (public key files) it must also carry a
    valid signature by one of them; ``info["signed_by"]`` names the key id."""
    source = Path(path)
    trusted = None if trusted_keys is None else load_public_keys(trusted_keys)
    if not source.is_file():
        raise NotAnArtifactError(f"{source}: no such model file; check the path")
    with open(source, "rb") as fh:
        head = fh.read(4)
    if head != _ZIP_MAGIC:
        raise NotAnArtifactError(f"{source} {_describe_foreign(head)}")
    try:
        with zipfile.ZipFile(source) as zf:
            return _read_zip(source, zf, trusted)
    except zipfile.BadZipFile as exc:
        raise IntegrityError(
            f"{source} is truncated or corrupt ({exc}); restore it from the registry or retrain"
        ) from None


def _check_members(source: Path, members: list[zipfile.ZipInfo]) -> None:
    """Refuse a hostile archive from its central directory alone, before a byte is decompressed:
    a name twice (two readers could take different members), a member that is not a regular file (a
    symlink or a folder), a name that could escape a folder if extracted, and sizes that would make
    reading it allocate without bound."""
    names = [info.filename for info in members]
    twice = sorted({name for name in names if names.count(name) > 1}) if len(set(names)) < len(names) else []
    if twice:
        raise IntegrityError(f"{source} holds member(s) {twice} more than once; refusing it")
    total = 0
    for info in members:
        name, kind = info.filename, stat.S_IFMT(info.external_attr >> 16)
        if kind not in (0, stat.S_IFREG):
            raise IntegrityError(f"{source}: member {name!r} is not a regular file (a link or a folder); refusing it")
        if name.startswith(("/", "\\")) or "\\" in name or ".." in name.split("/"):
            raise IntegrityError(f"{source}: member name {name!r} is not allowed")
        if info.file_size > _BOMB_BYTES and info.file_size > _BOMB_RATIO * max(info.compress_size, 1):
            raise IntegrityError(
                f"{source}: member {name!r} would expand {info.compress_size} bytes to {info.file_size} "
                "(a decompression bomb); refusing it unread"
            )
        total += info.file_size
    if total > _MAX_ARRAY_BYTES + _MAX_MANIFEST_BYTES:
        raise IntegrityError(f"{source}: its members would expand to {total} bytes, over the limit; refusing it unread")


def _read_zip(source: Path, zf: zipfile.ZipFile, trusted: dict[str, object] | None = None) -> StoredModel:
    _check_members(source, zf.infolist())
    infos = {info.filename: info for info in zf.infolist()}
    for required in (MANIFEST, MANIFEST_DIGEST):
        if required not in infos:
            raise IntegrityError(f"{source} has no {required}; it is not a complete .odl file")
    if infos[MANIFEST].file_size > _MAX_MANIFEST_BYTES:
        raise IntegrityError(f"{source}: manifest.json claims {infos[MANIFEST].file_size} bytes, over the limit")
    manifest_bytes = _read_member(source, zf, MANIFEST)
    recorded = _read_member(source, zf, MANIFEST_DIGEST).decode(errors="replace").strip()
    if hashlib.sha256(manifest_bytes).hexdigest() != recorded:
        raise IntegrityError(f"{source}: manifest.json does not match its SHA-256; the file was edited or damaged")
    signed_by = None
    if trusted is not None:
        record = _read_member(source, zf, SIGNATURE) if SIGNATURE in infos else None
        signed_by = verify_signature(source, manifest_bytes, record, trusted)
    try:
        manifest = json.loads(manifest_bytes)
    except ValueError as exc:
        raise IntegrityError(f"{source}: manifest.json is not valid JSON ({exc})") from None
    if manifest.get("format") != FORMAT_NAME:
        raise NotAnArtifactError(
            f"{source} is a zip file but not an oddsline model (format {manifest.get('format')!r})"
        )
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise FormatVersionError(
            f"{source} uses model format version {version!r}; this oddsline ({__version__}) reads version "
            f"{FORMAT_VERSION}; upgrade oddsline to load it"
        )
    members: dict[str, Any] = manifest["members"]
    extra = sorted(set(infos) - set(members) - {MANIFEST, MANIFEST_DIGEST, SIGNATURE})
    if extra:
        raise IntegrityError(f"{source} contains member(s) {extra} that its manifest does not list; refusing it")
    arrays: dict[str, NDArray[Any]] = {
        name[len("arrays/") : -len(".npy")]: _read_array(source, zf, infos, name, meta)
        for name, meta in members.items()
    }
    body = manifest["model"]
    info = {
        **body.get("info", {}),
        "created_at": manifest.get("created_at"),
        "file_sha256": file_sha256(source),
        "signed_by": signed_by,
    }
    return StoredModel(body, arrays, info)


def _read_member(source: Path, zf: zipfile.ZipFile, name: str) -> bytes:
    try:
        return zf.read(name)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise IntegrityError(f"{source}: member {name} is damaged ({exc}); restore the file or retrain") from None


def _read_array(
    source: Path, zf: zipfile.ZipFile, infos: dict[str, zipfile.ZipInfo], name: str, meta: dict[str, Any]
) -> NDArray[Any]:
    if name not in infos:
        raise IntegrityError(f"{source}: member {name} listed in the manifest is missing")
    if not name.startswith("arrays/") or not name.endswith(".npy") or "/" in name[len("arrays/") :]:
        raise IntegrityError(f"{source}: member name {name!r} is not allowed")
    if infos[name].file_size > _MAX_ARRAY_BYTES or infos[name].file_size != meta.get("bytes"):
        raise IntegrityError(
            f"{source}: member {name} has {infos[name].file_size} bytes, manifest says {meta.get('bytes')}"
        )
    blob = _read_member(source, zf, name)
    if hashlib.sha256(blob).hexdigest() != meta.get("sha256"):
        raise IntegrityError(f"{source}: member {name} does not match its SHA-256; the file was edited or damaged")
    buffer = io.BytesIO(blob)
    try:
        major, _minor = np.lib.format.read_magic(buffer)
        if major == 1:
            shape, _fortran, dtype = np.lib.format.read_array_header_1_0(buffer)
        else:
            shape, _fortran, dtype = np.lib.format.read_array_header_2_0(buffer)
    except ValueError as exc:
        raise IntegrityError(f"{source}: member {name} is not a valid .npy array ({exc})") from None
    if dtype.hasobject or dtype.str != meta.get("dtype") or list(shape) != meta.get("shape"):
        raise IntegrityError(f"{source}: member {name} header ({dtype.str}, {shape}) disagrees with the manifest")
    if int(np.prod(shape, dtype=np.int64)) * dtype.itemsize != len(blob) - buffer.tell():
        raise IntegrityError(f"{source}: member {name} header claims a size its bytes do not have")
    buffer.seek(0)
    return np.lib.format.read_array(buffer, allow_pickle=False)


def _npy_bytes(array: NDArray[Any]) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _describe_foreign(head: bytes) -> str:
    if head[:1] == b"\x80" or head[:1] in (b"(", b"c", b"]", b"}"):
        kind = "is a Python pickle (or joblib) file"
    elif head[:1] == b"\x78" or head[:2] == b"\x1f\x8b":
        kind = "is a compressed (joblib-style) file"
    else:
        kind = "is not an oddsline .odl file"
    return (
        f"{kind}; oddsline never unpickles model files because loading a pickle can run arbitrary code. "
        "Retrain with oddsline (oddsline train) to get an .odl file"
    )
