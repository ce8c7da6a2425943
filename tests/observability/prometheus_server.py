"""A real Prometheus server (Debian's `prometheus`, installed by .ci/install-system-packages) on a
free loopback port, scraping the given targets with the given rule files, asked through its HTTP API."""

from __future__ import annotations

import math
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
import yaml

from serve_process import free_port

BINARY = shutil.which("prometheus")
SKIP_REASON = "the prometheus server is not installed (Debian package prometheus; .ci/install-system-packages)"


class Prometheus:
    def __init__(self, folder: Path, jobs: dict[str, str], rule_files: list[Path], scrape: str = "500ms") -> None:
        """``jobs``: job name -> a server's base URL (http://host:port)."""
        if BINARY is None:
            pytest.skip(SKIP_REASON)
        self.folder = folder
        config = {
            "global": {"scrape_interval": scrape, "scrape_timeout": scrape, "evaluation_interval": "1s"},
            "rule_files": [str(f) for f in rule_files],
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": [base.split("//", 1)[1]]}]}
                for job, base in jobs.items()
            ],
        }
        (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.folder / "prometheus.log", "wb") as log:
            self.process = subprocess.Popen(
                [
                    str(BINARY),
                    f"--config.file={self.folder / 'prometheus.yml'}",
                    f"--storage.tsdb.path={self.folder / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.process.poll() is not None:
                pytest.fail("prometheus exited: " + (self.folder / "prometheus.log").read_text()[-2000:])
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        pytest.fail("prometheus did not become ready within 30 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The instant vector ``expr`` evaluates to now (its samples: labels and value)."""
        answer = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10).json()
        assert answer["status"] == "success", (expr, answer)
        if answer["data"]["resultType"] == "scalar":
            return [{"metric": {}, "value": answer["data"]["result"]}]
        return list(answer["data"]["result"])

    def values(self, expr: str) -> list[float]:
        return [float(sample["value"][1]) for sample in self.query(expr)]

    def alerts(self, state: str = "firing") -> set[tuple[str, str]]:
        """(alert name, model) of every alert in ``state`` now."""
        answer = httpx.get(f"{self.url}/api/v1/alerts", timeout=10).json()
        return {
            (a["labels"]["alertname"], a["labels"].get("model", ""))
            for a in answer["data"]["alerts"]
            if a["state"] == state
        }

    def ever_fired(self, since_seconds: float) -> set[tuple[str, str]]:
        """(alert name, model) of every alert that fired at some point in the last ``since_seconds``."""
        window = f"{math.ceil(since_seconds)}s"
        found = self.query(f'max_over_time(ALERTS{{alertstate="firing"}}[{window}])')
        return {(s["metric"]["alertname"], s["metric"].get("model", "")) for s in found}

    def targets_up(self) -> dict[str, float]:
        return {s["metric"]["job"]: float(s["value"][1]) for s in self.query("up")}

    def wait_scraped(self, jobs: set[str], seconds: float = 30) -> None:
        """Returns once every job's target has been scraped successfully."""
        deadline = time.time() + seconds
        while time.time() < deadline:
            up = self.targets_up()
            if all(up.get(job) == 1.0 for job in jobs):
                return
            time.sleep(0.2)
        pytest.fail(f"prometheus did not scrape {sorted(jobs)} within {seconds:g} s: up = {self.targets_up()}")
