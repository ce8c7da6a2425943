"""Issue 17, file shapes: every shape of a real file gives the model of the clean file, or exit 2 with one
line that names the problem and the flag that fixes it.

The bundled data are rewritten into each shape (delimiter, decimal commas, encoding, BOM, missing-value
markers, a pandas Parquet file); the independent reference is the model trained on the clean original
with the same rows and the same options, and it must come out identical, coefficient for coefficient.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

import oddsline
from oddsline.cli.main import main
from oddsline.features import FeatureSpec

DATA = Path(__file__).resolve().parents[1] / "examples" / "data"
TARGETS = {"telco_churn": "churn", "credit_scoring": "Status", "islr_default": "default"}


def cli(*args: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return code, out.getvalue(), err.getvalue()


def trained(data: Path, target: str, out: Path, *flags: str) -> oddsline.Model:
    code, _, err = cli("train", data, "--target", target, "--out", out, *flags)
    assert code == 0, err
    return oddsline.load(out)


def one_line_error(result: tuple[int, str, str], *words: str) -> str:
    code, _, err = result
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "internal error" not in err, err
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


def assert_same_model(model: oddsline.Model, reference: oddsline.Model) -> None:
    assert model.design_names == reference.design_names
    assert model.coefficients() == reference.coefficients()
    assert model.intercept == reference.intercept


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, oddsline.Model]:
    folder = tmp_path_factory.mktemp("reference")
    return {name: trained(DATA / f"{name}.csv", target, folder / f"{name}.odl") for name, target in TARGETS.items()}


def rows_of(name: str) -> list[list[str]]:
    with open(DATA / f"{name}.csv", newline="") as fh:
        return list(csv.reader(fh))


def write_rows(path: Path, rows: list[list[str]], *, delimiter: str = ",", encoding: str = "utf-8") -> Path:
    with open(path, "w", newline="", encoding=encoding) as fh:
        csv.writer(fh, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return path


def european(value: str) -> str:
    """A number as a European Excel export writes it: ``1.889,50`` for 1889.5, ``29,85`` for 29.85."""
    try:
        float(value)
    except ValueError:
        return value
    if "." not in value:
        return value
    whole, decimals = value.split(".")
    if len(whole.lstrip("-")) > 3:
        whole = f"{whole[:-3]}.{whole[-3:]}"
    return f"{whole},{decimals}"


# -- delimiters, decimal commas, encodings: the same model as the clean file -----------------------------


def test_semicolons_with_decimal_commas_give_the_clean_model(reference, tmp_path):
    rows = rows_of("telco_churn")
    data = write_rows(tmp_path / "export.csv", [rows[0], *([european(v) for v in r] for r in rows[1:])], delimiter=";")
    text = data.read_bytes()
    assert b";29,85;29,85\r\n" in text and b";1.889,5\r\n" in text  # decimal commas and thousands dots, as Excel
    assert_same_model(trained(data, "churn", tmp_path / "m.odl"), reference["telco_churn"])


@pytest.mark.parametrize(
    ("name", "delimiter", "encoding", "suffix"),
    [
        ("credit_scoring", "\t", "utf-8", ".csv"),  # tab-separated, named .csv
        ("islr_default", "|", "utf-8", ".csv"),
        ("credit_scoring", ",", "utf-8-sig", ".csv"),  # a byte-order mark before the header
        ("credit_scoring", "\t", "utf-16", ".txt"),  # Excel's "Unicode text"
    ],
)
def test_sniffed_delimiter_and_encoding_give_the_clean_model(reference, tmp_path, name, delimiter, encoding, suffix):
    data = write_rows(tmp_path / f"shape{suffix}", rows_of(name), delimiter=delimiter, encoding=encoding)
    assert_same_model(trained(data, TARGETS[name], tmp_path / "m.odl"), reference[name])


ACCENTED = {"married": "mariée", "single": "célibataire", "owner": "propriétaire", "freelance": "indépendant"}


def accented_rows() -> list[list[str]]:
    return [[ACCENTED.get(v, v) for v in row] for row in rows_of("credit_scoring")]


def test_windows_1252_text_gives_the_model_of_the_same_text_in_utf8(tmp_path):
    utf8 = trained(write_rows(tmp_path / "utf8.csv", accented_rows()), "Status", tmp_path / "utf8.odl")
    assert "Marital=mariée" in utf8.design_names
    cp1252 = write_rows(tmp_path / "cp1252.csv", accented_rows(), encoding="cp1252")
    assert_same_model(trained(cp1252, "Status", tmp_path / "cp1252.odl"), utf8)
    assert_same_model(trained(cp1252, "Status", tmp_path / "given.odl", "--encoding", "cp1252"), utf8)


def test_text_that_stops_being_utf8_past_the_sample_names_encoding(reference, tmp_path):
    rows = rows_of("credit_scoring")
    rows[-2] = [ACCENTED.get(v, v) for v in rows[-2]]  # the only accent, far past the first 64 KiB
    data = tmp_path / "late.csv"
    data.write_bytes(b"\r\n".join(",".join(r).encode("cp1252") for r in rows) + b"\r\n")
    assert data.stat().st_size > 64 * 1024 and b"\xe9" in data.read_bytes()[-200:]
    one_line_error(cli("train", data, "--target", "Status", "--out", tmp_path / "m.odl"), "late.csv", "--encoding")
    model = trained(data, "Status", tmp_path / "m.odl", "--encoding", "cp1252")
    assert any("é" in name for name in model.design_names)
    clean = reference["credit_scoring"].save(tmp_path / "clean.odl")
    out = tmp_path / "scores.csv"
    one_line_error(cli("predict", clean, data, "--out", out), "late.csv", "--encoding")
    assert not out.exists()
    code, _, err = cli("predict", clean, data, "--out", out, "--encoding", "cp1252")
    assert code == 0, err


def test_a_ragged_file_names_the_delimiter_it_was_read_with(reference, tmp_path):
    rows = rows_of("credit_scoring")
    rows[300] = rows[300][:3]
    data = write_rows(tmp_path / "ragged.csv", rows)
    clean = reference["credit_scoring"].save(tmp_path / "clean.odl")
    for verb in (["train", data, "--target", "Status"], ["predict", clean, data, "--out", tmp_path / "s.csv"]):
        one_line_error(cli(*verb), "ragged.csv", "Expected 14 columns, got 3", "delimiter ','", "--delimiter")


def test_a_header_repeated_mid_file_is_refused_naming_its_row(tmp_path):
    """Two exports joined with their headers: the second header turned every numeric column into text
    and "churn" into a third class of a multinomial model, with exit 0."""
    rows = rows_of("telco_churn")
    data = write_rows(tmp_path / "joined.csv", [*rows[:3001], rows[0], *rows[3001:]])
    one_line_error(cli("train", data, "--target", "churn"), "joined.csv", "data row 3001 repeats the header")


def test_missing_value_markers(reference, tmp_path):
    markers = ["?", "NA", "", "NULL"]  # NA, NULL and the empty field are Arrow's defaults; ? is not
    rows = rows_of("credit_scoring")
    n = 0
    for row in rows[1:]:
        for j, value in enumerate(row):
            if value == "":
                row[j], n = markers[n % len(markers)], n + 1
    data = write_rows(tmp_path / "marked.csv", rows)
    assert n > 400 and "?" in data.read_text()
    out = tmp_path / "m.odl"
    one_line_error(cli("train", data, "--target", "Status", "--out", out), "'Income'", "'?'", "--na-values '?'")
    assert not out.exists()
    assert_same_model(trained(data, "Status", out, "--na-values", "?"), reference["credit_scoring"])


def test_predict_reads_a_european_file_as_the_clean_one(reference, tmp_path):
    rows = rows_of("telco_churn")
    data = write_rows(tmp_path / "export.csv", [rows[0], *([european(v) for v in r] for r in rows[1:])], delimiter=";")
    model = tmp_path / "m.odl"
    reference["telco_churn"].save(model)
    for source, out in ((data, tmp_path / "eu.parquet"), (DATA / "telco_churn.csv", tmp_path / "clean.parquet")):
        code, _, err = cli("predict", model, source, "--out", out)
        assert code == 0 and err == "", err
    assert pq.read_table(tmp_path / "eu.parquet").equals(pq.read_table(tmp_path / "clean.parquet"))


def formatted(row: list[str], header: list[str]) -> list[str]:
    """telco's charges as a spreadsheet formats them: ``$29.85`` and ``1,889.50`` (quoted by csv)."""
    out = list(row)
    for j, name in enumerate(header):
        if name == "monthly_charges" and out[j]:
            out[j] = f"${out[j]}"
        elif name == "total_charges" and out[j]:
            out[j] = f"{float(out[j]):,.2f}"
    return out


def test_currency_signs_and_thousands_commas_give_the_clean_model_and_scores(reference, tmp_path):
    """Read as text, "$29.85" became a target-encoded categorical of 1,585 levels and "1,889.50" an
    identifier left out, with exit 0."""
    rows = rows_of("telco_churn")
    data = write_rows(tmp_path / "sheet.csv", [rows[0], *(formatted(r, rows[0]) for r in rows[1:])])
    text = data.read_text()
    assert ",$29.85," in text and '"1,889.50"' in text
    assert_same_model(trained(data, "churn", tmp_path / "m.odl"), reference["telco_churn"])
    model = reference["telco_churn"].save(tmp_path / "clean.odl")
    for source, out in ((data, tmp_path / "sheet.parquet"), (DATA / "telco_churn.csv", tmp_path / "clean.parquet")):
        code, _, err = cli("predict", model, source, "--out", out)
        assert code == 0 and err == "", err
    assert pq.read_table(tmp_path / "sheet.parquet").equals(pq.read_table(tmp_path / "clean.parquet"))


# -- shapes refused: exit 2, one line, the problem and the flag --------------------------------------------


def test_ambiguous_delimiter_names_the_flag(tmp_path):
    data = tmp_path / "both.csv"
    data.write_text("a,b;c\n1,2;3\n4,5;6\n")
    one_line_error(cli("spec", "infer", data), "both.csv", "cannot tell the delimiter", "--delimiter")
    code, out, err = cli("spec", "infer", data, "--delimiter", ";", "--json")
    assert code == 0, err
    assert [c["name"] for c in json.loads(out)["columns"]] == ["a,b", "c"]


def test_text_in_no_known_encoding_names_the_flag(tmp_path):
    data = tmp_path / "bytes.csv"
    data.write_bytes(b"y,x\n1,\x81\x8d\n0,a\n")  # neither UTF-8 nor Windows-1252
    one_line_error(cli("train", data, "--target", "y"), "bytes.csv", "--encoding")
    one_line_error(cli("train", data, "--target", "y", "--encoding", "klingon"), "'klingon'", "--encoding")
    one_line_error(cli("train", data, "--target", "y", "--delimiter", "::"), "--delimiter", "'::'")


def test_duplicate_column_names_are_named(tmp_path):
    rows = rows_of("credit_scoring")
    rows[0][4] = "Seniority"  # Age renamed to a name already in use
    data = write_rows(tmp_path / "dup.csv", rows)
    for verb in (["train", data, "--target", "Status"], ["spec", "infer", data]):
        one_line_error(cli(*verb), "dup.csv", "'Seniority' (2 times)", "rename")


# -- Parquet written by pandas --------------------------------------------------------------------------


def test_pandas_parquet_of_a_filtered_frame_gives_the_model_of_its_rows(tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.read_csv(DATA / "credit_scoring.csv")
    kept = frame[frame.Seniority > 0]
    with_index = tmp_path / "filtered.parquet"
    kept.to_parquet(with_index)
    assert "__index_level_0__" in pq.read_schema(with_index).names  # the shape of the issue
    plain = tmp_path / "plain.parquet"
    pq.write_table(pa.Table.from_pandas(kept, preserve_index=False), plain)
    expected = trained(plain, "Status", tmp_path / "plain.odl")
    model = trained(with_index, "Status", tmp_path / "m.odl")
    assert_same_model(model, expected)
    named = tmp_path / "named.parquet"
    kept.set_index("Status").to_parquet(named)  # a named index is data: here, the target
    assert_same_model(trained(named, "Status", tmp_path / "named.odl"), expected)


# -- predict: header-only input, the --id column -----------------------------------------------------------


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_header_only_input_gives_a_valid_empty_output(reference, tmp_path, suffix):
    model = reference["credit_scoring"].save(tmp_path / "m.odl")
    header = tmp_path / "header.csv"
    header.write_text(",".join(rows_of("credit_scoring")[0]) + "\n")
    one_line_error(cli("train", header, "--target", "Status"), "no data rows")
    out = tmp_path / f"scores{suffix}"
    code, stdout, err = cli("predict", model, header, "--out", out, "--id", "Age")
    assert code == 0, err
    assert "wrote 0 predictions" in stdout
    scores = pq.read_table(out) if suffix == ".parquet" else pacsv.read_csv(out)
    assert scores.column_names == ["Age", "probability", "prediction"] and scores.num_rows == 0


def test_the_id_column_is_copied_not_counted_as_unexpected(reference, tmp_path):
    rows = rows_of("credit_scoring")
    data = write_rows(
        tmp_path / "ids.csv", [[f"id{i:05d}", *r] if i else ["customer_id", *r] for i, r in enumerate(rows)]
    )
    model = reference["credit_scoring"].save(tmp_path / "m.odl")
    code, stdout, err = cli("predict", model, data, "--out", tmp_path / "s.csv", "--id", "customer_id", "--json")
    assert code == 0, err
    report = json.loads(stdout)
    # Neither the id nor the target (a column the model knows and does not use) is unexpected.
    assert report["events"].get("unexpected_column", {}) == {}
    scores = pacsv.read_csv(
        tmp_path / "s.csv", convert_options=pacsv.ConvertOptions(column_types={"customer_id": pa.string()})
    )
    assert scores.column("customer_id").to_pylist()[:2] == ["id00001", "id00002"]


# -- files the user asks for follow the umask; keys stay private ------------------------------------------


def run_with_umask(umask: int, *args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ODDSLINE_DEBUG"}
    return subprocess.run(
        [sys.executable, "-m", "oddsline", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        umask=umask,
        timeout=120,
    )


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_outputs_follow_the_umask(tmp_path, umask, mode):
    data = DATA / "credit_scoring.csv"
    model, scores = tmp_path / "m.odl", tmp_path / "s.parquet"
    for args in (
        ["train", data, "--target", "Status", "--out", model],
        ["predict", model, data, "--out", scores],
    ):
        result = run_with_umask(umask, *args)
        assert result.returncode == 0, result.stderr
    assert {p.name: p.stat().st_mode & 0o777 for p in (model, scores)} == {"m.odl": mode, "s.parquet": mode}


def test_signing_keys_stay_private_under_an_open_umask(tmp_path):
    result = run_with_umask(0o022, "keys", "generate", tmp_path / "team")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "team.key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "team.pub").stat().st_mode & 0o777 == 0o644


def test_registry_store_and_label_log_stay_private_under_an_open_umask(reference, tmp_path):
    pytest.importorskip("sqlalchemy")
    from oddsline.monitor.labels import store_labels
    from oddsline.registry.store import ArtifactStore

    model = reference["credit_scoring"].save(tmp_path / "m.odl")  # written before the umask changes
    old = os.umask(0o022)
    try:
        sha = ArtifactStore(tmp_path / "store").put(model)
        labels = store_labels([{"id": "a", "label": "good"}], tmp_path / "labels")
    finally:
        os.umask(old)
    assert (tmp_path / "store").joinpath("sha256", sha[:2], f"{sha}.odl").stat().st_mode & 0o777 == 0o600
    assert labels.stat().st_mode & 0o777 == 0o600


def test_a_totals_row_making_a_one_row_class_is_warned_about(tmp_path):
    """A totals row at the end of an export made "Total" a class of its own (a multinomial model of
    three classes, or a silent negative with --positive), with no word about it."""
    rows = rows_of("telco_churn")
    totals = [""] * len(rows[0])
    totals[rows[0].index("churn")] = "Total"
    data = write_rows(tmp_path / "totals.csv", [*rows, totals])
    for flags in ([], ["--positive", "Yes"]):
        code, _, err = cli("train", data, "--target", "churn", "--out", tmp_path / "m.odl", *flags)
        assert code == 0, err
        assert "warning: 'churn' has 'Total' in a single row: a totals row" in err
    code, _, err = cli("train", DATA / "telco_churn.csv", "--target", "churn", "--out", tmp_path / "clean.odl")
    assert code == 0 and "single row" not in err


def test_whole_numbers_with_thousands_dots_in_a_decimal_comma_file_are_thousands(tmp_path):
    """A European export writes 1507 as 1.507 where its decimals have commas: it was read as 1.507 in
    training and in scoring (5,431 of 7,043 scores moved, the column's effect lost), without a word."""
    rows = rows_of("telco_churn")
    at = rows[0].index("total_charges")
    whole = [rows[0], *([*r[:at], str(round(float(r[at]))) if r[at] else "", *r[at + 1 :]] for r in rows[1:])]
    clean = write_rows(tmp_path / "clean.csv", whole)

    def dotted(value: str) -> str:
        return f"{int(value):,}".replace(",", ".") if value.isdigit() else european(value)

    data = write_rows(tmp_path / "export.csv", [whole[0], *([dotted(v) for v in r] for r in whole[1:])], delimiter=";")
    text = data.read_text()
    assert ";6.844\n" in text and ";29,85;" in text  # thousands dots, decimal commas elsewhere
    reference = trained(clean, "churn", tmp_path / "clean.odl")
    assert_same_model(trained(data, "churn", tmp_path / "eu.odl"), reference)
    for source, out in ((data, tmp_path / "eu.parquet"), (clean, tmp_path / "clean.parquet")):
        code, _, err = cli("predict", tmp_path / "clean.odl", source, "--out", out)
        assert code == 0 and err == "", err
    assert pq.read_table(tmp_path / "eu.parquet").equals(pq.read_table(tmp_path / "clean.parquet"))


def test_a_row_number_column_is_left_out_whatever_its_name(reference, tmp_path):
    """An export's row counter ("n", 1 to 7,043) was standardised as a feature: the model learnt the
    file's order. Left out as an identifier, the model is the clean one; a short run (a year a row)
    and a shuffled counter stay features."""
    rows = rows_of("telco_churn")
    numbered = [["n", *rows[0]], *([str(i), *row] for i, row in enumerate(rows[1:], start=1))]
    data = write_rows(tmp_path / "numbered.csv", numbered)
    model = trained(data, "churn", tmp_path / "m.odl")
    assert_same_model(model, reference["telco_churn"])
    assert model.info["ignored_columns"]["n"].startswith("identifier: the row number (1 to 7043")
    short = pa.table({"year": list(range(1990, 2020)), "y": [0, 1] * 15})
    assert FeatureSpec.infer(short, target="y").columns[0].kind == "numeric"
    shuffled = pa.table({"rank": np.random.default_rng(0).permutation(500), "y": [0, 1] * 250})
    assert FeatureSpec.infer(shuffled, target="y").columns[0].kind == "numeric"  # a rank may be a feature
    # pandas' own index written to a CSV and read back ("Unnamed: 0"), rows sorted since: left out.
    index = pa.table({"Unnamed: 0": np.random.default_rng(1).permutation(60), "x": np.arange(60.0), "y": [0, 1] * 30})
    assert dict(FeatureSpec.infer(index, target="y").ignored) == {
        "Unnamed: 0": "identifier: the index pandas wrote into the file, one value per row"
    }


def test_dates_written_month_first_are_left_out_with_the_way_to_use_them(reference, tmp_path):
    """A spreadsheet's "03/15/2019" dates were 1,000+ text levels, target-encoded as categories no new
    row shares. Left out, saying why and how to keep them; the model is the clean one."""
    rows = rows_of("telco_churn")
    rng = np.random.default_rng(0)
    days = rng.integers(0, 3 * 365, size=len(rows) - 1)
    stamps = [str(np.datetime64("2017-01-01") + int(d)) for d in days]
    us = [f"{s[5:7]}/{s[8:10]}/{s[:4]}" for s in stamps]
    dated = [[*rows[0], "signed_up"], *([*row, day] for row, day in zip(rows[1:], us, strict=True))]
    data = write_rows(tmp_path / "dated.csv", dated)
    model = trained(data, "churn", tmp_path / "m.odl")
    assert_same_model(model, reference["telco_churn"])
    reason = model.info["ignored_columns"]["signed_up"]
    assert reason.startswith("dates not written YYYY-MM-DD (such as '") and "ISO 8601" in reason, reason
    slashed = [
        [*rows[0], "signed_up"],
        *([*row, day.replace("-", "/")] for row, day in zip(rows[1:], stamps, strict=True)),
    ]
    model = trained(write_rows(tmp_path / "slashed.csv", slashed), "churn", tmp_path / "slashed.odl")
    assert "signed_up" in model.info["ignored_columns"]  # 2019/03/15: not target-encoded text either
    iso = [[*rows[0], "signed_up"], *([*row, day] for row, day in zip(rows[1:], stamps, strict=True))]
    kept = trained(write_rows(tmp_path / "iso.csv", iso), "churn", tmp_path / "iso.odl")
    assert any(name.startswith("signed_up.") for name in kept.design_names)  # written as ISO: a date
