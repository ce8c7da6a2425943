"""The .odl file: bit-identical round trip, tamper and truncation detection, and refusal of pickles."""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import shutil
import stat
import zipfile

import numpy as np
import pytest

import oddsline
from oddsline import FormatVersionError, IntegrityError, NotAnArtifactError


def test_round_trip_gives_bit_identical_probabilities(telco_model, telco_table, tmp_path):
    path = telco_model.save(tmp_path / "churn.odl")
    loaded = oddsline.load(path)
    before = telco_model.predict_proba(telco_table)
    after = loaded.predict_proba(telco_table)
    assert before.tobytes() == after.tobytes()
    assert loaded.design_names == telco_model.design_names
    assert loaded.target == telco_model.target
    assert list(loaded.predict(telco_table)) == list(telco_model.predict(telco_table))


def test_members_are_checksummed_and_never_pickled(telco_model, tmp_path):
    path = telco_model.save(tmp_path / "m.odl")
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        assert zf.read("manifest.sha256").decode().strip() == hashlib.sha256(zf.read("manifest.json")).hexdigest()
        for name, meta in manifest["members"].items():
            blob = zf.read(name)
            assert hashlib.sha256(blob).hexdigest() == meta["sha256"]
            np.lib.format.read_array(io.BytesIO(blob), allow_pickle=False)
    assert manifest["format_version"] == 1


def _rewrite(src, dst, edit):
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info.filename, edit(info.filename, zin.read(info.filename)))


def _flip_last_byte(blob: bytes) -> bytes:
    return blob[:-1] + bytes([blob[-1] ^ 0x01])


@pytest.mark.parametrize("member", ["arrays/coef.npy", "manifest.json"])
def test_one_flipped_byte_is_refused_naming_the_member(telco_model, tmp_path, member):
    good = telco_model.save(tmp_path / "good.odl")
    bad = tmp_path / "bad.odl"
    _rewrite(good, bad, lambda name, blob: _flip_last_byte(blob) if name == member else blob)
    with pytest.raises(IntegrityError, match=member.replace(".", r"\.")):
        oddsline.load(bad)


def test_edited_threshold_in_manifest_is_refused(telco_model, tmp_path):
    good = telco_model.save(tmp_path / "good.odl")
    bad = tmp_path / "bad.odl"

    def edit(name, blob):
        return blob.replace(b'"threshold": 0.5', b'"threshold": 0.1') if name == "manifest.json" else blob

    _rewrite(good, bad, edit)
    with pytest.raises(IntegrityError, match="edited or damaged"):
        oddsline.load(bad)


def test_truncated_file_is_refused(telco_model, tmp_path):
    blob = telco_model.save(tmp_path / "good.odl").read_bytes()
    for cut in (len(blob) // 3, len(blob) - 10):
        bad = tmp_path / f"cut{cut}.odl"
        bad.write_bytes(blob[:cut])
        with pytest.raises(IntegrityError, match="truncated or corrupt|damaged"):
            oddsline.load(bad)


def test_unlisted_member_is_refused(telco_model, tmp_path):
    good = telco_model.save(tmp_path / "good.odl")
    with zipfile.ZipFile(good, "a") as zf:
        zf.writestr("arrays/extra.npy", b"x")
    with pytest.raises(IntegrityError, match="does not list"):
        oddsline.load(good)


def test_unknown_format_version_is_refused(telco_model, tmp_path):
    good = telco_model.save(tmp_path / "good.odl")
    bad = tmp_path / "future.odl"
    manifest: dict = {}

    def edit(name, blob):
        if name == "manifest.json":
            manifest.update(json.loads(blob))
            manifest["format_version"] = 99
            return json.dumps(manifest).encode()
        if name == "manifest.sha256":
            return b""  # replaced below once the new manifest is known
        return blob

    _rewrite(good, bad, edit)
    fixed = tmp_path / "future2.odl"
    new_manifest = json.dumps(manifest).encode()
    _rewrite(
        bad,
        fixed,
        lambda n, b: hashlib.sha256(new_manifest).hexdigest().encode() if n == "manifest.sha256" else b,
    )
    with pytest.raises(FormatVersionError, match="version 99"):
        oddsline.load(fixed)


class _Sentinel:
    """Unpickling this would create a file: proof that a loader executed the payload."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_pickle_is_refused_without_being_executed(tmp_path, protocol):
    sentinel = tmp_path / "EXECUTED"
    payload = tmp_path / "model.odl"
    payload.write_bytes(pickle.dumps(_Sentinel(sentinel), protocol=protocol))
    with pytest.raises(NotAnArtifactError, match="never unpickles"):
        oddsline.load(payload)
    assert not sentinel.exists()


def test_joblib_file_is_refused_without_being_executed(tmp_path):
    joblib = pytest.importorskip("joblib")
    sentinel = tmp_path / "EXECUTED"
    payload = tmp_path / "model.joblib"
    joblib.dump(_Sentinel(sentinel), payload, compress=3)
    with pytest.raises(NotAnArtifactError, match="never unpickles"):
        oddsline.load(payload)
    assert not sentinel.exists()


def test_object_array_member_is_refused(telco_model, tmp_path):
    good = telco_model.save(tmp_path / "good.odl")
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    evil = buffer.getvalue()
    bad = tmp_path / "evil.odl"
    manifest = {}

    def edit(name, blob):
        if name == "arrays/coef.npy":
            return evil
        if name == "manifest.json":
            manifest.update(json.loads(blob))
            manifest["members"]["arrays/coef.npy"].update(
                sha256=hashlib.sha256(evil).hexdigest(), bytes=len(evil), dtype="|O", shape=[1]
            )
            return json.dumps(manifest).encode()
        return blob

    _rewrite(good, bad, edit)
    fixed = tmp_path / "evil2.odl"
    blob = json.dumps(manifest).encode()
    _rewrite(bad, fixed, lambda n, b: hashlib.sha256(blob).hexdigest().encode() if n == "manifest.sha256" else b)
    with pytest.raises(IntegrityError, match="disagrees|not a valid"):
        oddsline.load(fixed)


def test_failed_save_leaves_no_file(telco_model, tmp_path, monkeypatch):
    original = zipfile.ZipFile.writestr

    def fail_on_arrays(self, name, data, *args, **kwargs):
        if str(getattr(name, "filename", name)).startswith("arrays/"):
            raise OSError("disk full")
        return original(self, name, data, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", fail_on_arrays)
    with pytest.raises(OSError, match="disk full"):
        telco_model.save(tmp_path / "m.odl")
    assert list(tmp_path.iterdir()) == []


def _with_member(good, target, member_blob, shape, dtype="<f8"):
    """A copy of ``good`` whose coef member is ``member_blob``, with a manifest that vouches for it."""
    manifest = {}

    def edit(name, blob):
        if name == "arrays/coef.npy":
            return member_blob
        if name == "manifest.json":
            manifest.update(json.loads(blob))
            manifest["members"]["arrays/coef.npy"].update(
                sha256=hashlib.sha256(member_blob).hexdigest(), bytes=len(member_blob), dtype=dtype, shape=shape
            )
            return json.dumps(manifest).encode()
        return blob

    step = target.with_suffix(".step.odl")
    _rewrite(good, step, edit)
    text = json.dumps(manifest).encode()
    _rewrite(step, target, lambda n, b: hashlib.sha256(text).hexdigest().encode() if n == "manifest.sha256" else b)
    return target


def test_a_header_claiming_a_trillion_elements_is_refused_before_allocating(telco_model, tmp_path):
    good = telco_model.save(tmp_path / "good.odl")
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    liar = header.getvalue() + b"\x00" * 64
    bad = _with_member(good, tmp_path / "liar.odl", liar, [10**12])
    with pytest.raises(IntegrityError, match="claims a size its bytes do not have"):
        oddsline.load(bad)


def test_members_over_the_size_bound_are_refused_unread(telco_model, tmp_path, monkeypatch):
    from oddsline import artifact_file

    good = telco_model.save(tmp_path / "good.odl")
    monkeypatch.setattr(artifact_file, "_MAX_ARRAY_BYTES", 64)  # stands in for 4 GiB: the same check
    with pytest.raises(IntegrityError, match="arrays/.*bytes"):
        oddsline.load(good)


def _with_extra(good, target, info, blob):
    """A copy of ``good`` with one more member, written raw (zipfile warns about a duplicate name)."""
    import warnings

    shutil.copy(good, target)
    with warnings.catch_warnings(), zipfile.ZipFile(target, "a", compression=zipfile.ZIP_DEFLATED) as zf:
        warnings.simplefilter("ignore")
        zf.writestr(info, blob)
    return target


def test_a_member_written_twice_is_refused(telco_model, tmp_path):
    good = telco_model.save(tmp_path / "good.odl")
    with zipfile.ZipFile(good) as zf:
        coef = zf.read("arrays/coef.npy")
    bad = _with_extra(good, tmp_path / "twice.odl", "arrays/coef.npy", coef)
    with pytest.raises(IntegrityError, match=r"arrays/coef\.npy.*more than once"):
        oddsline.load(bad)


def test_a_symlink_member_is_refused(telco_model, tmp_path):
    good = telco_model.save(tmp_path / "good.odl")
    link = zipfile.ZipInfo("arrays/link.npy")
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    bad = _with_extra(good, tmp_path / "link.odl", link, b"/etc/passwd")
    with pytest.raises(IntegrityError, match="not a regular file"):
        oddsline.load(bad)


@pytest.mark.parametrize("name", ["../../evil.npy", "/abs.npy", "arrays\\..\\evil.npy"])
def test_a_member_name_that_could_escape_a_folder_is_refused(telco_model, tmp_path, name):
    good = telco_model.save(tmp_path / "good.odl")
    bad = _with_extra(good, tmp_path / "slip.odl", name, b"x")
    with pytest.raises(IntegrityError, match="not allowed"):
        oddsline.load(bad)


def test_a_decompression_bomb_is_refused_before_it_is_expanded(telco_model, tmp_path, monkeypatch):
    import tracemalloc

    good = telco_model.save(tmp_path / "good.odl")
    bomb = _with_extra(good, tmp_path / "bomb.odl", "arrays/bomb.npy", bytes(80 << 20))  # 80 MiB of zeros
    assert bomb.stat().st_size < 1 << 20
    tracemalloc.start()
    try:
        with pytest.raises(IntegrityError, match="decompression bomb"):
            oddsline.load(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20  # nothing near the 80 MiB was allocated


def test_members_that_together_expand_past_the_bound_are_refused_unread(telco_model, tmp_path, monkeypatch):
    from oddsline import artifact_file

    good = telco_model.save(tmp_path / "good.odl")
    monkeypatch.setattr(artifact_file, "_MAX_ARRAY_BYTES", 16)  # stands in for 4 GiB
    monkeypatch.setattr(artifact_file, "_MAX_MANIFEST_BYTES", 16)
    with pytest.raises(IntegrityError, match="over the limit; refusing it unread"):
        oddsline.load(good)
