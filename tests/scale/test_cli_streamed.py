"""``oddsline train`` on a folder, a glob and several files: the inferred spec, streamed, through the command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

import oddsline


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "oddsline", *args], capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def folder(telco_table: pa.Table, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("csv_parts")
    for i, (a, b) in enumerate([(0, 2000), (2000, 2001), (2001, 5000), (5000, 7043)]):
        pacsv.write_csv(telco_table.slice(a, b - a), out / f"part{i}.csv")
    return out


def test_train_on_a_folder_with_the_inferred_spec(folder: Path, tmp_path: Path, telco_table: pa.Table) -> None:
    out = tmp_path / "m.odl"
    done = _cli("train", str(folder), "--target", "churn", "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    summary = json.loads(done.stdout)
    info = summary["info"]
    assert info["n_train"] + info["n_test"] == 7043
    assert info["engine"]["name"] == "local" and info["engine"]["partitions"] == 4
    assert summary["evaluation"]["roc_auc"] > 0.8
    model = oddsline.load(out)
    p = model.predict_proba(telco_table.drop_columns(["churn"]))[:, 1]
    assert p.shape == (7043,) and 0 < p.min() and p.max() < 1


def test_a_glob_and_a_list_of_files_give_the_same_model(folder: Path, tmp_path: Path) -> None:
    by_glob = _cli("train", str(folder / "*.csv"), "--target", "churn", "--out", str(tmp_path / "a.odl"))
    files = sorted(str(p) for p in folder.glob("*.csv"))
    by_list = _cli("train", *files, "--target", "churn", "--out", str(tmp_path / "b.odl"))
    assert by_glob.returncode == 0 and by_list.returncode == 0, by_glob.stderr + by_list.stderr
    assert "streamed on engine local" in by_glob.stdout
    a, b = oddsline.load(tmp_path / "a.odl"), oddsline.load(tmp_path / "b.odl")
    assert list(a.coef) == list(b.coef)


def test_options_a_stream_cannot_honour_are_refused_with_exit_2(folder: Path, tmp_path: Path) -> None:
    done = _cli("train", str(folder), "--target", "churn", "--calibrate", "platt", "--out", str(tmp_path / "x.odl"))
    assert done.returncode == 2
    assert "calibrate" in done.stderr and "--engine memory" in done.stderr
    missing = _cli("train", str(tmp_path / "nothing-here"), "--target", "churn", "--engine", "local")
    assert missing.returncode == 2 and "no such file or folder" in missing.stderr


def test_the_python_one_liner_streams_a_folder(folder: Path, telco_table: pa.Table) -> None:
    model = oddsline.train(folder, "churn")
    assert model.info["engine"]["name"] == "local"
    assert model.info["n_train"] + model.info["n_test"] == 7043
    same = oddsline.train(str(folder / "*.csv"), "churn", engine="local")
    assert list(same.coef) == list(model.coef)
    with pytest.raises(oddsline.ParameterError, match="streams files"):
        oddsline.train(telco_table, "churn", engine="local")
    with pytest.raises(oddsline.ParameterError, match="calibrate"):
        oddsline.train(folder, "churn", calibrate="platt")


def test_predict_a_folder_writes_a_part_per_file_or_nothing(
    folder: Path, tmp_path: Path, telco_table: pa.Table
) -> None:
    model_path = tmp_path / "m.odl"
    assert _cli("train", str(folder), "--target", "churn", "--out", str(model_path)).returncode == 0
    out = tmp_path / "scores"
    done = _cli("predict", str(model_path), str(folder), "--out", str(out))
    assert done.returncode == 0, done.stderr
    parts = sorted(out.glob("part-*.parquet"))
    assert len(parts) == 4
    import pyarrow.parquet as pq

    scored = pa.concat_tables(pq.read_table(p) for p in parts)
    expected = oddsline.load(model_path).predict_proba(telco_table.drop_columns(["churn"]))[:, 1]
    assert list(scored.column("probability").to_numpy()) == list(expected)
    # A failing file (an --id column it lacks) leaves no output folder and no staging folder behind.
    failed = _cli("predict", str(model_path), str(folder), "--out", str(tmp_path / "bad"), "--id", "nope")
    assert failed.returncode == 2 and "--id column 'nope'" in failed.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.odl", "scores"]


def test_monitor_a_folder_gives_the_report_of_the_whole_table(
    folder: Path, tmp_path: Path, telco_table: pa.Table
) -> None:
    from oddsline.monitor import drift_report

    model_path = tmp_path / "m.odl"
    assert _cli("train", str(folder), "--target", "churn", "--out", str(model_path)).returncode == 0
    done = _cli("monitor", "--model", str(model_path), "--data", str(folder), "--json")
    assert done.returncode in (0, 1), done.stderr
    streamed = json.loads(done.stdout)
    whole = drift_report(oddsline.load(model_path), telco_table)
    assert streamed["rows"] == whole["rows"] == 7043
    for name, column in whole["columns"].items():
        assert streamed["columns"][name]["psi"] == pytest.approx(column["psi"], rel=1e-12, abs=1e-15)
        assert streamed["columns"][name]["p_value"] == pytest.approx(column["p_value"], rel=1e-9, abs=1e-300)
    assert streamed["score"]["psi"] == pytest.approx(whole["score"]["psi"], rel=1e-12)
    assert streamed["mean_score"] == pytest.approx(whole["mean_score"], rel=1e-12)
    refused = _cli("monitor", "--model", str(model_path), "--data", str(folder), "--trigger", "ece > 0.05")
    assert refused.returncode == 2 and "--trigger" in refused.stderr


def test_files_that_type_a_column_differently_train_with_the_inferred_spec(
    telco_table: pa.Table, tmp_path: Path
) -> None:
    """A column blank throughout one CSV file (its reader calls it text) stays numeric; text in a numeric
    column of a later file makes it categorical in every file, spelled the same. Both crashed (exit 70)
    merging the files' row samples."""
    blank, texted = tmp_path / "blank", tmp_path / "texted"
    blank.mkdir(), texted.mkdir()
    parts = [telco_table.slice(0, 3000), telco_table.slice(3000, 2000), telco_table.slice(5000)]
    for i, part in enumerate(parts):
        if i == 1:
            where = part.schema.get_field_index("monthly_charges")
            pacsv.write_csv(
                part.set_column(where, "monthly_charges", pa.nulls(part.num_rows, pa.float64())), blank / "b.csv"
            )
            tenure = [str(v) for v in part.column("tenure").to_pylist()]
            tenure[::400] = ["unknown"] * len(tenure[::400])
            where = part.schema.get_field_index("tenure")
            pacsv.write_csv(part.set_column(where, "tenure", pa.array(tenure)), texted / "b.csv")
        else:
            pacsv.write_csv(part, blank / f"{'ac'[i // 2]}.csv")
            pacsv.write_csv(part, texted / f"{'ac'[i // 2]}.csv")
    for folder, column, kind in ((blank, "monthly_charges", "numeric"), (texted, "tenure", "target")):
        out = tmp_path / f"{folder.name}.odl"
        done = _cli("train", str(folder), "--target", "churn", "--out", str(out))
        assert done.returncode == 0, done.stderr
        fitted = {c.name: c for c in oddsline.load(out).features.columns}
        assert fitted[column].kind == kind, (column, fitted[column].kind)
    levels = fitted["tenure"].levels
    assert "unknown" in levels and "12" in levels and all(isinstance(v, str) for v in levels)


def test_a_source_without_rows_and_a_column_constant_in_the_sample_are_named_plainly(
    telco_table: pa.Table, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    pacsv.write_csv(telco_table.slice(0, 0), empty / "header_only.csv")
    done = _cli("train", str(empty), "--target", "churn", "--out", str(tmp_path / "e.odl"))
    assert done.returncode == 2 and "no data rows to train on" in done.stderr, done.stderr
    constant = tmp_path / "constant"
    constant.mkdir()
    table = telco_table.append_column("plan", pa.array(["basic"] * telco_table.num_rows))
    pacsv.write_csv(table.slice(0, 4000), constant / "a.csv")
    pacsv.write_csv(table.slice(4000), constant / "b.csv")
    out = tmp_path / "c.odl"
    done = _cli("train", str(constant), "--target", "churn", "--out", str(out))
    assert done.returncode == 0, done.stderr
    # Inference saw a sample; the reason must not claim every row of the source.
    assert (
        oddsline.load(out).info["ignored_columns"]["plan"] == "constant: 'basic' in every one of the 7,043 sampled rows"
    )


def test_a_file_named_twice_is_refused_not_trained_twice(folder: Path, tmp_path: Path) -> None:
    one = sorted(folder.glob("*.csv"))[0]
    done = _cli("train", str(folder), str(one), "--target", "churn", "--out", str(tmp_path / "twice.odl"))
    assert done.returncode == 2 and "is in the source twice" in done.stderr and one.name in done.stderr, done.stderr
    assert not (tmp_path / "twice.odl").exists()


def test_a_folder_trains_on_its_data_files_not_notes_markers_or_checkpoints(
    folder: Path, tmp_path: Path, telco_table: pa.Table
) -> None:
    """What people's export folders hold beside the data: a README, Spark's _SUCCESS and .crc files, a
    _temporary/ of a job, Jupyter's .ipynb_checkpoints/ with a copy of a CSV (its rows would count twice)."""
    export = tmp_path / "export"
    (export / ".ipynb_checkpoints").mkdir(parents=True)
    (export / "_temporary" / "0").mkdir(parents=True)
    for part in sorted(folder.glob("*.csv")):
        (export / part.name).write_bytes(part.read_bytes())
    pacsv.write_csv(telco_table.slice(0, 2000), export / ".ipynb_checkpoints" / "part0-checkpoint.csv")
    pacsv.write_csv(telco_table.slice(0, 10), export / "_temporary" / "0" / "part9.csv")
    (export / "_SUCCESS").write_bytes(b"")
    (export / ".part0.csv.crc").write_bytes(b"\x00\x01")
    (export / "README.txt").write_text("Telco churn, exported 2026-12-01.\nOne row per customer.\n")
    done = _cli("train", str(export), "--target", "churn", "--out", str(tmp_path / "m.odl"), "--json")
    assert done.returncode == 0, done.stderr
    info = json.loads(done.stdout)["info"]
    assert info["n_train"] + info["n_test"] == telco_table.num_rows
    assert [Path(f).name for f in info["data_fingerprint"]["files"]] == [f"part{i}.csv" for i in range(4)]

    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "README.txt").write_text("nothing to train on\n")
    refused = _cli("train", str(notes), "--target", "churn", "--out", str(tmp_path / "n.odl"))
    assert refused.returncode == 2 and "holds no CSV, Parquet or Arrow files" in refused.stderr
    assert "*.txt" in refused.stderr  # how to read .txt tables if that is what they are


def test_a_glob_over_an_export_skips_its_markers_unless_it_names_them(folder: Path, tmp_path: Path) -> None:
    """``out/*`` over a Spark export matches _SUCCESS and the .crc files too: skipped as in a folder."""
    export = tmp_path / "out"
    (export / "_temporary" / "0").mkdir(parents=True)
    for part in sorted(folder.glob("*.csv")):
        (export / part.name).write_bytes(part.read_bytes())
        (export / f".{part.name}.crc").write_bytes(b"\x00\x01")
        (export / f"{part.name}.crc").write_bytes(b"\x00\x01")  # Hadoop writes them with and without the dot
    (export / "_SUCCESS").write_bytes(b"")
    (export / "_temporary" / "0" / "part9.csv").write_bytes((folder / "part0.csv").read_bytes())
    done = _cli("train", str(export / "**" / "*"), "--target", "churn", "--out", str(tmp_path / "m.odl"), "--json")
    assert done.returncode == 0, done.stderr
    files = json.loads(done.stdout)["info"]["data_fingerprint"]["files"]
    assert [Path(f).name for f in files] == [f"part{i}.csv" for i in range(4)]
    named = _cli("train", str(export / "_*"), "--target", "churn", "--out", str(tmp_path / "n.odl"))
    assert named.returncode == 2 and "_SUCCESS" in named.stderr  # named by the pattern: read, and refused as empty


def test_a_file_with_other_columns_is_the_one_named(telco_table: pa.Table, tmp_path: Path) -> None:
    """A later export renamed a column: the message names that file and the names on both sides, not
    the first file for lacking the later file's new name."""
    import pyarrow.parquet as pq

    parts = tmp_path / "parts"
    parts.mkdir()
    pq.write_table(telco_table.slice(0, 4000), parts / "2026-11.parquet")
    renamed = telco_table.slice(4000).rename_columns(
        ["Tenure" if n == "tenure" else n for n in telco_table.column_names]
    )
    pq.write_table(renamed, parts / "2026-12.parquet")
    done = _cli("train", str(parts), "--target", "churn", "--out", str(tmp_path / "m.odl"))
    assert done.returncode == 2, done.stderr
    message = done.stderr.strip().splitlines()[-1]
    assert "2026-12.parquet has other columns than" in message and "2026-11.parquet" in message
    assert "lacks ['tenure']" in message and "has ['Tenure']" in message
    assert not (tmp_path / "m.odl").exists()


def test_currency_and_thousands_formatted_files_stream_as_numbers(telco_table: pa.Table, tmp_path: Path) -> None:
    """As in memory ($29.85 and "1,889.50" are numbers): a folder of such exports inferred them as a
    target-encoded text column and an identifier."""
    import pyarrow.compute as pc

    parts = tmp_path / "sheets"
    parts.mkdir()
    sheet = telco_table.set_column(
        telco_table.column_names.index("monthly_charges"),
        "monthly_charges",
        pc.binary_join_element_wise("$", pc.cast(telco_table.column("monthly_charges"), pa.string()), ""),
    )
    totals = [None if v is None else f"{v:,.2f}" for v in telco_table.column("total_charges").to_pylist()]
    sheet = sheet.set_column(sheet.column_names.index("total_charges"), "total_charges", pa.array(totals))
    for i, (a, b) in enumerate([(0, 3500), (3500, 7043)]):
        pacsv.write_csv(sheet.slice(a, b - a), parts / f"part{i}.csv")
    assert "$29.85" in (parts / "part0.csv").read_text()
    done = _cli("train", str(parts), "--target", "churn", "--out", str(tmp_path / "m.odl"), "--json")
    assert done.returncode == 0, done.stderr
    model = oddsline.load(tmp_path / "m.odl")
    kinds = {c.name: c.kind for c, _ in model.features.blocks()}
    assert kinds["monthly_charges"] == "numeric" and kinds["total_charges"] == "numeric"
    assert "total_charges" not in model.info["ignored_columns"]
