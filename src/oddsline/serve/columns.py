"""A JSON list of rows decoded straight into the model's columns, for large native predict requests.

Parsed the usual way, a 1,000-row request becomes 1,000 dicts (every key hashed again per row), and the
scorers then pull each column back out of them. msgspec decodes each row into a fixed-layout record of
the model's columns instead, and one transposition gives the columns: for 1,000 telco rows 1.3 ms in
all, where parsing alone took 1.5 ms and pulling out the columns 0.9 ms more.

Only the plain case is decoded here: a JSON array of objects with exactly the model's columns. For
anything else (a missing or extra column, NaN, malformed JSON, one object) ``decode`` returns None and
the caller parses the body the usual way, which gives the usual answers and errors. The values are
the JSON values as they came (``Any`` fields): the encoders judge them, as they judge a dict's.

Where the model has a compiled scorer (``scoring_json.py``) and it takes the body, nothing is decoded
at all: the scorer has the rows' log-odds already, and the records are decoded only if something asks
for a column (a challenger without a compiled scorer, say).
"""

from __future__ import annotations

from typing import Any

import msgspec
import pyarrow as pa

from ..scoring_json import JsonRowScorer
from .duplicate_keys import duplicate_key

__all__ = ["ColumnRows", "RequestRows", "RowDecoder", "as_dicts"]


class ColumnRows:
    """Decoded rows as :class:`oddsline.features.partial.Rows`: columns for the batch scorers, a dict
    only for a row that is asked for one.

    Once the request is scored, ``release`` drops the decoded records: the prediction log and the
    recent-rows memory keep only the body, and decode it again in their own threads when they get to
    it. Held for the log's quarter second, 1,000 rows' worth of Python objects per request were
    freed in bulk by the writer, and every request paid for fresh memory (about 200 page faults).
    """

    def __init__(self, decoder: RowDecoder, body: bytes, records: list[Any] | None, n: int) -> None:
        self._decoder, self._records, self._body = decoder, records, body
        self.json: bytes | None = body  # the request's body (Rows.json)
        self.compiled = records is None  # the compiled scorer took them at decode: their scores are known
        self.names = decoder.names
        self._n = n
        self._columns: list[tuple[Any, ...]] | None = None

    def __len__(self) -> int:
        return self._n

    def column(self, name: str) -> tuple[Any, ...]:
        if self._columns is None:
            self._columns = list(zip(*map(msgspec.structs.astuple, self._live()), strict=True))
        return self._columns[self._decoder.index[name]]

    def row(self, i: int) -> dict[str, Any]:
        return dict(zip(self.names, msgspec.structs.astuple(self._live()[i]), strict=True))

    def release(self) -> None:
        self._records, self._columns = None, None

    def dicts(self) -> list[dict[str, Any]]:
        records = self._records  # one read: another thread may release them meanwhile
        if records is None:
            records = self._decoder.records(self._body)
        names, astuple = self.names, msgspec.structs.astuple
        return [dict(zip(names, astuple(record), strict=True)) for record in records]

    def json_array(self) -> pa.StringArray:
        """Each row's JSON object as the request spelled it, as an Arrow string array."""
        return pa.array([bytes(raw) for raw in self._decoder.raw_rows(self._body)], pa.string())

    def _live(self) -> list[Any]:
        records = self._records
        if records is None:
            records = self._records = self._decoder.records(self._body)
        return records


RequestRows = list[dict[str, Any]] | ColumnRows


def as_dicts(rows: RequestRows) -> list[dict[str, Any]]:
    return rows if isinstance(rows, list) else rows.dicts()


class RowDecoder:
    """Decodes a JSON array of rows with exactly ``columns`` into :class:`ColumnRows`; ``scorer`` is
    the model's compiled scorer, if it has one."""

    def __init__(self, columns: list[str], scorer: JsonRowScorer | None = None) -> None:
        self.names, self._scorer = tuple(columns), scorer
        self.index = {name: i for i, name in enumerate(columns)}  # a column's place in a record
        # Fields are f0, f1, ... renamed to the column names, which need not be identifiers. gc=False:
        # decoded JSON holds no reference cycles, and 1,000 untracked records add nothing to a young
        # collection that runs while a request's rows are alive.
        record = msgspec.defstruct(
            "Row",
            [(f"f{i}", Any) for i in range(len(columns))],
            rename={f"f{i}": name for i, name in enumerate(columns)},
            forbid_unknown_fields=True,
            gc=False,
        )
        self._decoder = msgspec.json.Decoder(list[record])  # type: ignore[valid-type]
        self._raw_decoder = msgspec.json.Decoder(list[msgspec.Raw])

    def decode(self, body: bytes) -> ColumnRows | None:
        """The rows, or None when the body is not a non-empty JSON array of objects with exactly the
        model's columns (the usual parse then answers it)."""
        if body[:1] != b"[":  # one object, {"rows": ...}, or leading whitespace: not worth a try
            return None
        if self._scorer is not None:
            log_odds = self._scorer.log_odds(body)  # remembered: scoring these rows asks again
            if log_odds is not None:
                return ColumnRows(self, body, None, len(log_odds))
        try:
            records = self._decoder.decode(body)
        except (msgspec.MsgspecError, RecursionError):  # the usual parse says what is wrong
            return None
        if duplicate_key(body) is not None:  # the record kept the last value; the usual parse refuses
            return None
        return ColumnRows(self, body, records, len(records)) if records else None

    def records(self, body: bytes) -> list[Any]:
        """The records of a body ``decode`` took."""
        return self._decoder.decode(body)  # type: ignore[no-any-return]

    def raw_rows(self, body: bytes) -> list[msgspec.Raw]:
        """Each row of a body ``decode`` took, as its JSON text."""
        return self._raw_decoder.decode(body)
