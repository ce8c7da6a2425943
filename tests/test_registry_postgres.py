"""The registry against a real PostgreSQL server started on loopback for this module (skipped, with the
reason, where PostgreSQL cannot run)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from oddsline.registry import Registry
from postgres_server import postgres_server
from test_registry import exercise


@pytest.fixture(scope="module")
def postgres_url():
    with postgres_server() as (url, reason):
        if url is None:
            pytest.skip(reason)
        yield url


@pytest.fixture(scope="module")
def model_file(tmp_path_factory, telco_model):
    return telco_model.save(tmp_path_factory.mktemp("models") / "churn.odl")


def test_lifecycle_on_postgresql(postgres_url, model_file, tmp_path):
    with Registry(postgres_url, home=tmp_path / "home") as registry:
        exercise(registry, model_file)


def test_concurrent_registrations_on_postgresql(postgres_url, model_file, tmp_path):
    home = tmp_path / "home"
    Registry(postgres_url, home=home).close()
    code = f"from oddsline.registry import Registry; print(Registry({postgres_url!r}, home={str(home)!r}).register('concurrent', {str(model_file)!r}))"
    workers = [
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(20)
    ]
    versions = []
    for w in workers:
        out, err = w.communicate(timeout=300)
        assert w.returncode == 0, err
        versions.append(int(out))
    assert sorted(versions) == list(range(1, 21))
