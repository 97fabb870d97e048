"""The customer group's invariants, checked against oracles read straight from the raw files.

The oracles parse the delivered bytes with Python's ``csv`` and ``datetime`` (not the
project's reader), so a bug in the pipeline's parsing cannot hide from them:

- raw rows = cleaned + quarantined + removed duplicates, per table;
- every customer of the cleaned base is in exactly one segment;
- nobody inside a cool period, judged on their latest raw snapshot, is targeted, nor
  anybody whose latest raw snapshot cannot be read;
- priority = score x probability x value;
- no customer name anywhere outside the cleaned base.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from finance_platform.transforms.customers import rules


@dataclass(frozen=True)
class RawFile:
    """A delivered CSV as an oracle sees it: header and rows, decoded independently."""

    header: list[str]
    rows: list[list[str]]

    @classmethod
    def read(cls, path: Path, encoding: str) -> RawFile:
        data = Path(path).read_bytes()
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        text = data.decode(encoding)
        lines = [line for line in text.splitlines() if line.strip()]
        parsed = list(csv.reader(io.StringIO("\n".join(lines))))
        return cls(parsed[0], parsed[1:]) if parsed else cls([], [])

    def column(self, row: list[str], name: str) -> str | None:
        i = self.header.index(name)
        return row[i] if i < len(row) and row[i] != "" else None


def _parse(value: str | None, formats) -> dt.datetime | None:
    for fmt, _spark in formats:
        try:
            return dt.datetime.strptime(value or "", fmt)
        except ValueError:
            continue
    return None


def may_be_targeted(behavior: RawFile, run_date: dt.date) -> set[str]:
    """Customers whose latest raw snapshot is readable and not inside its cool period.

    A customer with any snapshot whose month cannot be read has no known latest snapshot.
    Of several rows for the newest month, the first in file order is the one that counts.
    """
    latest: dict[str, tuple[dt.datetime, list[str]]] = {}
    unknown: set[str] = set()
    for row in behavior.rows:
        customer = behavior.column(row, "customer_id")
        if not customer or not customer.strip():
            continue
        month = _parse(behavior.column(row, "stat_month"), rules.MONTH_FORMATS)
        if month is None:
            unknown.add(customer)
            continue
        if customer not in latest or month > latest[customer][0]:
            latest[customer] = (month, row)
    allowed = set()
    for customer, (_month, row) in latest.items():
        cool = _parse(behavior.column(row, "marketing_cool_period"), rules.DATE_FORMATS)
        if customer not in unknown and cool is not None and cool.date() <= run_date:
            allowed.add(customer)
    return allowed


def names(base: RawFile) -> set[str]:
    return {n for row in base.rows if (n := base.column(row, "name"))}


def assert_accounted(raw: RawFile, cleaned: int, quarantined: int, duplicates: int, what: str):
    assert len(raw.rows) == cleaned + quarantined + duplicates, (
        f"{what}: {len(raw.rows)} raw rows != {cleaned} cleaned + {quarantined} quarantined "
        f"+ {duplicates} duplicates"
    )


def assert_one_segment_each(cleaned_base_ids: Iterable[str], segments: pd.DataFrame) -> None:
    ids = pd.Series(list(cleaned_base_ids), dtype="str")
    seg = segments["customer_id"].astype("str")
    assert seg.is_unique, "a customer is in two segments"
    assert set(seg) == set(ids) and len(seg) == len(ids), "segments != cleaned customers"
    known = {r["id"] for r in rules.SEGMENT_RULES}
    assert set(segments["segment_id"].astype("str")) <= known


def assert_targets_allowed(targets: pd.DataFrame, allowed: set[str]) -> None:
    targeted = set(targets["customer_id"].astype("str"))
    assert targeted <= allowed, f"targeted inside a cool period or unknown: {targeted - allowed}"


def round_half_away(values, digits: int) -> np.ndarray:
    """The rules' rounding (``sql/render.round_``): half away from zero on the binary value."""
    scale = 10.0**digits
    x = np.asarray(values, dtype="float64")
    return np.sign(x) * np.floor(np.abs(x) * scale + 0.5) / scale


def assert_priority_formula(frame: pd.DataFrame) -> None:
    product = frame["score"] * frame["purchase_probability"] * frame["expected_value"]
    expected = round_half_away(product, 2)
    assert np.array_equal(frame["priority_score"].to_numpy("float64"), expected), "priority formula"


def assert_no_names(frames: dict[str, pd.DataFrame], people: set[str]) -> None:
    for label, frame in frames.items():
        assert not set(rules.PII_COLUMNS) & set(frame.columns), f"{label} has a name column"
        for column in frame.columns:
            values = frame[column]
            if values.dtype.kind in "biufcmM":
                continue
            found = set(values.dropna().astype("str")) & people
            assert not found, f"{label}.{column} holds customer names"


def assert_no_names_in_text(texts: dict[str, str], people: set[str]) -> None:
    for label, text in texts.items():
        hits = [n for n in people if n in text]
        assert not hits, f"customer names in {label}: {len(hits)}"
