"""Serving, this checkout against an earlier commit, side by side: the figure the machine's noise
cannot move much, because both servers are measured in the same minutes.

    cd benchmarks && ../.venv/bin/python serve_ab.py --base 88266d9 [--rounds 6] [--blocks 12]

The base commit is checked out in a temporary git worktree; both servers run ``oddsline serve`` with
two workers and the prediction log on, each from its own source tree, on the telco model. Single-row
throughput: wrk rounds alternating between the two (median of ``--rounds``). 1,000-row requests:
alternating blocks of 12 sequential requests (2 unmeasured), with a pause between blocks so that each
log's writer works off its rows (median server time, the Server-Timing header). Needs wrk and git
(and a C compiler where the base commit has the compiled scorer of JSON rows).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2 as httpx

from serve import ROOT, TELCO, free_port, start, wrk

PREDICT = "/v1/models/churn/predict"
# A worktree holds no build: the compiled modules the base commit has are built for it, as
# ``pip install -e`` does for this checkout. The build runs in an empty folder: setuptools would
# otherwise read the worktree's pyproject.toml, which the build tools of this venv may not accept.
EXTENSIONS = (
    ("oddsline._jsonrows", "src/oddsline/_jsonrows.c", "-ffp-contract=off"),
    ("oddsline.core._onehot", "src/oddsline/core/_onehot.c", "-O3"),
    ("oddsline.serve._jsonkeys", "src/oddsline/serve/_jsonkeys.c", "-O2"),
)
BUILD_EXTENSION = (
    "import sys; from setuptools import Extension, setup; "
    "setup(name='b', script_args=['-q', 'build_ext', '--build-lib', sys.argv[3]], "
    "ext_modules=[Extension(sys.argv[1], [sys.argv[2]], extra_compile_args=[sys.argv[4]])])"
)


def build_extensions(tree: Path, scratch: Path) -> None:
    for module, source, flag in EXTENSIONS:
        if (tree / source).exists():
            shutil.copy(tree / source, scratch / Path(source).name)
            built = scratch / "built"
            subprocess.run(
                [sys.executable, "-c", BUILD_EXTENSION, module, Path(source).name, str(built), flag],
                cwd=scratch,
                check=True,
            )
            for library in built.rglob("*.so"):
                shutil.copy(library, tree / "src" / library.relative_to(built))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="the earlier commit to compare with (any git revision)")
    parser.add_argument("--rounds", type=int, default=6, help="wrk rounds per server")
    parser.add_argument("--blocks", type=int, default=12, help="blocks of 1,000-row requests per server")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install wrk")

    import oddsline

    work = Path(tempfile.mkdtemp(prefix="oddsline-serve-ab-"))
    base_tree = work / "base"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(base_tree), args.base], check=True)
    servers: dict[str, subprocess.Popen[bytes]] = {}
    try:
        scratch = work / "build"
        scratch.mkdir()
        build_extensions(base_tree, scratch)
        table = oddsline.read_table(TELCO)
        model_path = oddsline.train(table, target="churn", positive="Yes").save(work / "churn.odl")
        row = json.dumps(table.drop(["churn"]).slice(0, 1).to_pylist()[0])
        many = json.dumps(table.drop(["churn"]).slice(0, 1000).to_pylist())
        urls = {}
        for name, source in (("base", base_tree / "src"), ("this", ROOT / "src")):
            port = free_port()
            command = [sys.executable, "-m", "oddsline", "serve", str(model_path), "--workers", "2"]
            command += ["--port", str(port), "--prediction-log", str(work / f"log-{name}")]
            servers[name] = start(command, port, {"PYTHONPATH": str(source)}, (PREDICT, row))
            urls[name] = f"http://127.0.0.1:{port}{PREDICT}"
        rates: dict[str, list[float]] = {name: [] for name in urls}
        for i in range(args.rounds):
            for name in ("base", "this") if i % 2 == 0 else ("this", "base"):
                rates[name].append(wrk(urls[name], row, 6, 64)["rate"])
                print(f"round {i + 1} {name}: {rates[name][-1]:.0f} requests/s", flush=True)
        server_ms: dict[str, list[float]] = {name: [] for name in urls}
        with httpx.Client(timeout=30) as client:
            for i in range(args.blocks):
                for name in ("base", "this") if i % 2 == 0 else ("this", "base"):
                    for k in range(12):
                        response = client.post(urls[name], content=many, headers={"content-type": "application/json"})
                        assert response.status_code == 200, response.text
                        if k >= 2:
                            server_ms[name].append(float(response.headers["server-timing"].split("dur=")[1]))
                    time.sleep(1.2)
    finally:
        for process in servers.values():
            process.terminate()
        for process in servers.values():
            process.wait(timeout=60)
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base_tree)], check=False)
        shutil.rmtree(work, ignore_errors=True)

    base_rate, this_rate = statistics.median(rates["base"]), statistics.median(rates["this"])
    base_ms, this_ms = statistics.median(server_ms["base"]), statistics.median(server_ms["this"])
    print()
    print(f"| measure | {args.base} | this checkout | ratio |")
    print("|---|---|---|---|")
    print(
        f"| single-row requests/s (median of {args.rounds}) | {base_rate:.0f} | {this_rate:.0f} | "
        f"{this_rate / base_rate:.2f}x |"
    )
    print(
        f"| 1,000-row server time ms (median of {len(server_ms['this'])}) | {base_ms:.2f} | {this_ms:.2f} | "
        f"{this_ms / base_ms:.2f}x |"
    )


if __name__ == "__main__":
    main()
