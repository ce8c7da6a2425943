"""Registry: versions, aliases, gate, audit; names and paths that try to escape; signatures and tampering;
concurrent writers and writers killed mid-write. SQLite here; the same tests run against a real
PostgreSQL server in test_registry_postgres.py."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

import oddsline
from oddsline import IntegrityError, RegistryError, SignatureError
from oddsline.registry import Registry, check_name
from oddsline.signing import generate_keys, sign_file


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, telco_model):
    return telco_model.save(tmp_path_factory.mktemp("models") / "churn.odl")


@pytest.fixture
def registry(tmp_path):
    return Registry(home=tmp_path / "home")


def exercise(registry: Registry, model_file: Path) -> None:
    """The lifecycle every backend must support (also run against PostgreSQL)."""
    assert [registry.register("churn", model_file, reason="first") for _ in range(3)] == [1, 2, 3]
    registry.set_alias("churn", "champion", 1)
    registry.set_alias("churn", "challenger", 3)
    registry.set_alias("churn", "champion", 2, reason="better")
    assert registry.resolve("churn@champion") == ("churn", 2)
    assert registry.resolve("churn") == ("churn", 3) and registry.resolve("churn@v1") == ("churn", 1)
    assert registry.rollback("churn") == 1 and registry.resolve("churn@champion") == ("churn", 1)
    with pytest.raises(RegistryError, match="has not passed the gate"):
        registry.promote("churn", 3)
    registry.record_gate("churn", 3, True, {"passed": True}, champion_version=1)
    assert registry.gate("churn", 3) is not None and registry.gate("churn", 2) is None
    registry.promote("churn", 3)
    assert registry.resolve("churn@champion") == ("churn", 3)
    registry.promote("churn", 2, alias="challenger", force=True, reason="hotfix")
    with pytest.raises(RegistryError, match="is champion"):
        registry.archive("churn", 3)
    registry.archive("churn", 1)
    with pytest.raises(RegistryError, match="archived"):
        registry.set_alias("churn", "champion", 1)
    rows = registry.versions("churn")
    assert [r["version"] for r in rows] == [1, 2, 3] and rows[0]["status"] == "archived"
    assert rows[2]["aliases"] == ["champion"] and rows[1]["aliases"] == ["challenger"]
    actions = [(e["action"], e["version"]) for e in registry.audit_log("churn")]
    assert actions[:3] == [("register", 1), ("register", 2), ("register", 3)]
    assert ("rollback", 1) in actions and ("gate", 3) in actions and ("archive", 1) in actions
    forced = [e for e in registry.audit_log("churn") if e["reason"].startswith("FORCED")]
    assert len(forced) == 1 and forced[0]["detail"]["alias"] == "challenger" and forced[0]["detail"]["forced"]
    assert rows[2]["gate"] == {"passed": True, "champion_version": 1, "champion": "v1"} and rows[1]["gate"] is None
    lineage = registry.lineage("churn@champion")
    assert lineage["data"]["rows"] == 7043 and lineage["sha256"] == rows[2]["sha256"]
    assert registry.diff("churn", 2, 3)["roc_auc"]["delta"] == 0.0
    loaded = registry.load("churn@champion")
    assert loaded.info["file_sha256"] == rows[2]["sha256"]
    with pytest.raises(RegistryError, match="no version 9"):
        registry.resolve("churn@9")
    with pytest.raises(RegistryError, match="churn@staging is not set"):
        registry.resolve("churn@staging")


def test_lifecycle_on_sqlite(registry, model_file):
    exercise(registry, model_file)


@pytest.mark.parametrize(
    "name",
    [
        "../x",
        "..\\x",
        "%2e%2e%2f",
        "%252e%252e%252f",
        "/etc/passwd",
        "file:///etc/passwd",
        "a/b",
        "a\x00b",
        "",
        ".hidden",
        "a..b",
        "x" * 129,
        "c:\\x",
    ],
)
def test_names_that_try_to_escape_are_refused(name):
    with pytest.raises(RegistryError, match="not allowed"):
        check_name(name)


def test_model_paths_and_store_entries_that_escape_are_refused(registry, model_file, tmp_path):
    with pytest.raises(RegistryError, match="NUL"):
        registry.register("churn", f"{model_file}\x00.odl")
    with pytest.raises(RegistryError, match="not a URI"):
        registry.register("churn", model_file.as_uri())
    with pytest.raises(RegistryError, match="no such model file"):
        registry.register("churn", tmp_path / "missing.odl")
    version = registry.register("churn", model_file)
    sha = registry.show(f"churn@{version}")["sha256"]
    stored = registry.store.path_of(sha)
    outside = tmp_path / "outside.odl"
    outside.write_bytes(stored.read_bytes())
    stored.unlink()
    stored.symlink_to(outside)
    with pytest.raises(RegistryError, match="outside the store"):
        registry.load(f"churn@{version}")
    with pytest.raises(RegistryError, match="not a SHA-256"):
        registry.store.path_of("../../etc/passwd")


def test_flipping_one_byte_of_any_member_is_refused_naming_it(model_file, tmp_path):
    with zipfile.ZipFile(model_file) as zf:
        names = [i.filename for i in zf.infolist()]
        blobs = {n: zf.read(n) for n in names}
    for name in names:
        blob = bytearray(blobs[name])
        blob[len(blob) // 2] ^= 0x01
        damaged = tmp_path / f"damaged-{name.replace('/', '_')}.odl"
        with zipfile.ZipFile(damaged, "w") as zf:
            for n in names:
                zf.writestr(n, bytes(blob) if n == name else blobs[n])
        with pytest.raises(IntegrityError, match=name.replace(".", r"\.")):
            oddsline.load(damaged)


def test_signatures_are_required_and_checked(model_file, tmp_path):
    key, pub = generate_keys(tmp_path / "team")
    _, other_pub = generate_keys(tmp_path / "other")
    strict = Registry(home=tmp_path / "home", require_signatures=True, trusted_keys=[pub])
    with pytest.raises(SignatureError, match="not signed"):
        strict.register("churn", model_file)
    signed = tmp_path / "signed.odl"
    signed.write_bytes(model_file.read_bytes())
    sign_file(signed, key)
    assert strict.register("churn", signed) == 1
    assert strict.lineage("churn@1")["signed_by"] is not None
    untrusted = Registry(home=tmp_path / "home2", require_signatures=True, trusted_keys=[other_pub])
    with pytest.raises(SignatureError, match="not among the trusted keys"):
        untrusted.register("churn", signed)
    # Re-signing the manifest of another file does not make a tampered array pass: its hash fails first.
    with zipfile.ZipFile(signed) as zf:
        blobs = {i.filename: zf.read(i.filename) for i in zf.infolist()}
    forged = tmp_path / "forged.odl"
    with zipfile.ZipFile(forged, "w") as zf:
        for n, b in blobs.items():
            zf.writestr(n, b.replace(b'"threshold": 0.5', b'"threshold": 0.9') if n == "manifest.json" else b)
    with pytest.raises((IntegrityError, SignatureError)):
        oddsline.load(forged, trusted_keys=[pub])


def _worker(home: Path, code: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", f"from oddsline.registry import Registry; r = Registry(home={str(home)!r}); {code}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_fifty_concurrent_registrations_get_versions_one_to_fifty(tmp_path, model_file):
    home = tmp_path / "home"
    Registry(home=home)  # create the schema once, as a deployment would
    workers = [_worker(home, f"print(r.register('churn', {str(model_file)!r}))") for _ in range(50)]
    versions = []
    for w in workers:
        out, err = w.communicate(timeout=300)
        assert w.returncode == 0, err
        versions.append(int(out))
    assert sorted(versions) == list(range(1, 51))
    assert [r["version"] for r in Registry(home=home).versions("churn")] == list(range(1, 51))


def test_concurrent_alias_moves_leave_exactly_one_target(tmp_path, model_file):
    home = tmp_path / "home"
    registry = Registry(home=home)
    for _ in range(5):
        registry.register("churn", model_file)
    workers = [_worker(home, f"r.set_alias('churn', 'champion', {1 + i % 5})") for i in range(20)]
    for w in workers:
        _, err = w.communicate(timeout=300)
        assert w.returncode == 0, err
    _, version = registry.resolve("churn@champion")
    assert 1 <= version <= 5
    assert sum(1 for r in registry.versions("churn") if "champion" in r["aliases"]) == 1
    moves = [e for e in registry.audit_log("churn") if e["action"] == "set_alias"]
    assert len(moves) == 20 and moves[-1]["version"] == version


def test_writers_killed_at_random_points_leave_old_or_new_state(tmp_path, model_file):
    """SIGKILL while a registration runs (after imports: the worker says "ready" first), at seeded
    random delays that straddle its copy and commit: the registry is at the old or the new state."""
    home = tmp_path / "home"
    registry = Registry(home=home)
    rng = random.Random(20261128)
    outcomes = []
    for _trial in range(20):
        before = len(registry.versions("churn"))
        worker = _worker(home, f"print('ready', flush=True); r.register('churn', {str(model_file)!r})")
        assert worker.stdout is not None and worker.stdout.readline().strip() == "ready"
        time.sleep(rng.uniform(0.0, 0.3))
        worker.send_signal(signal.SIGKILL)
        worker.communicate()
        rows = Registry(home=home).versions("churn")
        assert len(rows) in (before, before + 1)
        outcomes.append(len(rows) - before)
        assert [r["version"] for r in rows] == list(range(1, len(rows) + 1))
        for r in rows:  # every committed row has its verified file
            registry.store.get(r["sha256"])
    print(f"killed before commit: {outcomes.count(0)}, after: {outcomes.count(1)}")


def test_a_locked_registry_waits_for_the_lock_then_says_retry_with_exit_75(telco_model_file, tmp_path):
    """Another writer holds the SQLite registry's write lock. Within the busy timeout a command waits
    and succeeds; past it, the CLI says the registry is locked, changes nothing and exits 75 (retry)."""
    import os
    import sqlite3
    import threading

    home = tmp_path / "home"
    with Registry(home=home) as registry:
        registry.register("churn", telco_model_file)
        registry.register("churn", telco_model_file)
    command = [sys.executable, "-m", "oddsline", "registry", "--home", str(home), "alias", "churn", "champion"]

    def locked_for(seconds: float) -> threading.Thread:
        holder = sqlite3.connect(home / "registry.db", isolation_level=None, check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")  # the write lock a registry writer takes

        def release() -> None:
            time.sleep(seconds)
            holder.execute("ROLLBACK")
            holder.close()

        thread = threading.Thread(target=release)
        thread.start()
        return thread

    env = {**os.environ, "ODDSLINE_REGISTRY_BUSY_SECONDS": "1"}
    holder = locked_for(4.0)
    started = time.time()
    refused = subprocess.run([*command, "2"], capture_output=True, text=True, env=env)
    assert refused.returncode == 75, refused.stderr
    assert "locked" in refused.stderr and "retry" in refused.stderr and "Traceback" not in refused.stderr
    assert time.time() - started < 3.9  # it gave up after its 1 s, not when the lock went away
    holder.join()
    with Registry(home=home) as registry:  # nothing was changed
        assert not any(event["action"] == "set_alias" for event in registry.audit_log("churn"))

    holder = locked_for(1.5)
    waited = subprocess.run([*command, "2"], capture_output=True, text=True)  # default: waits up to 60 s
    holder.join()
    assert waited.returncode == 0, waited.stderr
    with Registry(home=home) as registry:
        assert [e["action"] for e in registry.audit_log("churn")].count("set_alias") == 1
        assert registry.resolve("churn@champion") == ("churn", 2)
