"""How a CSV file is spelled: its text encoding and its delimiter, sniffed from its first 64 KiB.

Sniffing reads at most ``SAMPLE_BYTES`` once, so it costs the same for a 1 KB and a 10 GB file, and
it is deterministic: the same bytes always give the same answer.

Encoding: a byte-order mark decides (UTF-8 or UTF-16); otherwise UTF-8 if the sample decodes as
UTF-8, else Windows-1252 (Latin-1 with the euro sign and typographic quotes in 0x80-0x9F: what Excel
writes on Western European Windows) if it decodes as that; anything else is an error that asks for ``--encoding``. Bytes past the sample
that do not decode are caught when the file is read (see ``io.read_table``).

Delimiter: each of ``, ; TAB |`` splits the sample's lines (quotes respected, as the reader does);
the one that splits the header and every line into the same number (> 1) of fields wins. A European
Excel export (``;`` with decimal commas) is found this way: its commas split data lines but not the
header. Two winners are an error that asks for ``--delimiter``; no winner (a ragged file, a single
column) falls back to the candidate that splits the header most (for one column, tab in a .tsv file and
comma otherwise), and the reader reports any ragged line with the delimiter it used.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

from ._exceptions import ParameterError, ReadError

__all__ = ["CANDIDATES", "SAMPLE_BYTES", "CsvDialect", "check_delimiter", "check_encoding", "sniff_dialect"]

SAMPLE_BYTES = 64 * 1024
CANDIDATES = (",", ";", "\t", "|")
_NAMES = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


@dataclass(frozen=True)
class CsvDialect:
    delimiter: str
    encoding: str  # a Python codec name; "utf-8" is read by Arrow directly (a UTF-8 BOM is skipped)

    @property
    def decimal_comma(self) -> bool:
        """Whether ``1234,56`` can be a number: only when the comma does not separate fields."""
        return self.delimiter != ","

    def describe(self) -> str:
        return f"delimiter {delimiter_name(self.delimiter)}, encoding {self.encoding}"


def delimiter_name(delimiter: str) -> str:
    return _NAMES.get(delimiter, repr(delimiter))


def check_delimiter(delimiter: str) -> str:
    """One field separator character; ``\\t`` and ``tab`` mean the tab character."""
    value = "\t" if delimiter in ("\\t", "tab", "TAB") else delimiter
    if len(value) != 1 or value in '\r\n"':
        raise ParameterError(f"--delimiter must be one character such as ',' ';' '|' or '\\t' (tab), got {delimiter!r}")
    return value


def check_encoding(encoding: str) -> str:
    """A text encoding Python knows, by its canonical name (``latin1`` -> ``iso8859-1``)."""
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        raise ParameterError(
            f"--encoding {encoding!r} is not a known text encoding; use e.g. utf-8, cp1252, latin-1 or utf-16"
        ) from None
    return "utf-8" if name == "utf-8-sig" else name


def sniff_dialect(
    path: str | os.PathLike[str], *, delimiter: str | None = None, encoding: str | None = None
) -> CsvDialect:
    """The file's delimiter and encoding: those given, the others sniffed from its first 64 KiB."""
    p = Path(path)
    chosen_delimiter = check_delimiter(delimiter) if delimiter else None
    given_encoding = check_encoding(encoding) if encoding else None
    with open(p, "rb") as fh:
        sample = fh.read(SAMPLE_BYTES + 1)
    whole = len(sample) <= SAMPLE_BYTES
    sample = sample[:SAMPLE_BYTES]
    chosen_encoding = given_encoding or _sniff_encoding(p, sample, whole)
    if chosen_delimiter is None:
        text = _decode(p, sample, chosen_encoding, whole)
        chosen_delimiter = _sniff_delimiter(p, text, whole)
    return CsvDialect(chosen_delimiter, chosen_encoding)


def _sniff_encoding(p: Path, sample: bytes, whole: bool) -> str:
    for bom, name in _BOMS:
        if sample.startswith(bom):
            return name
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=whole)  # a cut character at the end is fine
        return "utf-8"
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        raise ReadError(
            f"{p} is neither UTF-8 nor Windows-1252 text (byte 0x{sample[utf8_error.start]:02x} at offset "
            f"{utf8_error.start}); give its encoding with --encoding, e.g. --encoding latin-1"
        ) from None


def _decode(p: Path, sample: bytes, encoding: str, whole: bool) -> str:
    try:
        text = codecs.getincrementaldecoder(encoding)(errors="strict").decode(sample, final=whole)
    except UnicodeDecodeError as exc:
        raise ReadError(
            f"{p} is not {encoding} text (byte 0x{sample[exc.start]:02x} at offset {exc.start}); "
            "give its encoding with --encoding"
        ) from None
    return text.removeprefix("\ufeff")


def _sniff_delimiter(p: Path, text: str, whole: bool) -> str:
    if not whole and "\n" in text:
        text = text[: text.rindex("\n") + 1]  # whole lines only
    counts: dict[str, list[int]] = {}
    for candidate in CANDIDATES:
        rows = [len(row) for row in csv.reader(io.StringIO(text, newline=""), delimiter=candidate) if row]
        if not whole and len(rows) > 1:
            rows.pop()  # the sample may end inside a quoted field that spans lines
        counts[candidate] = rows
    consistent = [c for c, rows in counts.items() if rows and rows[0] > 1 and len(set(rows)) == 1]
    if len(consistent) == 1:
        return consistent[0]
    if len(consistent) > 1:
        names = " and ".join(delimiter_name(c) for c in consistent)
        raise ReadError(
            f"{p}: cannot tell the delimiter: {names} both split every line into equal fields; give it with --delimiter"
        )
    header_fields = {c: rows[0] if rows else 0 for c, rows in counts.items()}
    best = max(CANDIDATES, key=lambda c: header_fields[c])  # ties go to the earlier candidate: ',' first
    if header_fields[best] > 1:
        return best
    return "\t" if p.suffix.lower() == ".tsv" else ","  # one column: the extension's delimiter
