"""Ed25519 signatures of model files.

The signature covers ``manifest.json``, which holds the SHA-256 of every other member, so one signature
vouches for the whole file: a flipped byte anywhere fails either a member's hash or the signature.
It is stored as the member ``manifest.sig`` (JSON: key id and signature, hex). A key id is the first
16 hex digits of the SHA-256 of the raw public key. Keys are PEM files: ``NAME.key`` (private, mode
0600) and ``NAME.pub``.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType

from ._exceptions import ParameterError, SignatureError

__all__ = ["SIGNATURE", "generate_keys", "key_id", "load_public_keys", "sign_file", "verify_signature"]

SIGNATURE = "manifest.sig"


def _crypto() -> tuple[ModuleType, ModuleType]:
    """(cryptography's serialization, ed25519), imported on first use: signing is an optional extra."""
    try:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ed25519
    except ImportError:
        raise ParameterError("signing needs the cryptography package: pip install 'oddsline[sign]'") from None
    return serialization, ed25519


def generate_keys(stem: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write ``stem.key`` (private, 0600) and ``stem.pub``; refuses to overwrite either."""
    serialization, ed25519 = _crypto()
    private_path, public_path = Path(f"{stem}.key"), Path(f"{stem}.pub")
    for path in (private_path, public_path):
        if path.exists():
            raise ParameterError(f"{path} exists; choose another name (keys are never overwritten)")
    private = ed25519.Ed25519PrivateKey.generate()
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    public_path.write_bytes(
        private.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private_path, public_path


def _raw(public_key: object) -> bytes:
    serialization, _ = _crypto()
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)  # type: ignore[attr-defined,no-any-return]


def key_id(public_key: object) -> str:
    return hashlib.sha256(_raw(public_key)).hexdigest()[:16]


def _load_private(path: str | os.PathLike[str]) -> object:
    serialization, ed25519 = _crypto()
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise ParameterError(f"{path} is not a readable Ed25519 private key ({exc})") from None
    if not isinstance(key, ed25519.Ed25519PrivateKey):
        raise ParameterError(f"{path} is not an Ed25519 private key")
    return key


def load_public_keys(paths: Iterable[str | os.PathLike[str]]) -> dict[str, object]:
    """Trusted public keys by key id."""
    serialization, ed25519 = _crypto()
    keys: dict[str, object] = {}
    for path in paths:
        try:
            key = serialization.load_pem_public_key(Path(path).read_bytes())
        except (OSError, ValueError) as exc:
            raise ParameterError(f"{path} is not a readable public key ({exc})") from None
        if not isinstance(key, ed25519.Ed25519PublicKey):
            raise ParameterError(f"{path} is not an Ed25519 public key")
        keys[key_id(key)] = key
    return keys


def sign_file(path: str | os.PathLike[str], private_key_path: str | os.PathLike[str]) -> str:
    """Add (or replace) the signature of a model file, atomically; returns the key id."""
    from .io import atomic_path

    key = _load_private(private_key_path)
    source = Path(path)
    with zipfile.ZipFile(source) as zf:
        members = [(info, zf.read(info.filename)) for info in zf.infolist() if info.filename != SIGNATURE]
    manifest = next((blob for info, blob in members if info.filename == "manifest.json"), None)
    if manifest is None:
        raise SignatureError(f"{source} has no manifest.json; only .odl model files can be signed")
    signature = key.sign(manifest)  # type: ignore[attr-defined]
    ident = key_id(key.public_key())  # type: ignore[attr-defined]
    record = json.dumps({"algorithm": "ed25519", "key_id": ident, "signature": signature.hex()}).encode()
    with atomic_path(source) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for info, blob in members:
            out.writestr(info, blob)
        out.writestr(SIGNATURE, record)
    return ident


def verify_signature(source: Path, manifest: bytes, record: bytes | None, trusted: dict[str, object]) -> str:
    """Check ``record`` against the manifest with a trusted key; returns the key id."""
    if record is None:
        raise SignatureError(f"{source} is not signed and a signature is required; sign it (oddsline sign)")
    try:
        fields = json.loads(record)
        ident, signature = str(fields["key_id"]), bytes.fromhex(fields["signature"])
    except (ValueError, KeyError, TypeError):
        raise SignatureError(f"{source}: {SIGNATURE} is malformed") from None
    key = trusted.get(ident)
    if key is None:
        raise SignatureError(f"{source} is signed by key {ident}, which is not among the trusted keys")
    from cryptography.exceptions import InvalidSignature

    try:
        key.verify(signature, manifest)  # type: ignore[attr-defined]
    except InvalidSignature:
        raise SignatureError(f"{source}: the signature does not match manifest.json; the file was altered") from None
    return ident
