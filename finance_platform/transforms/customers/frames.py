"""Row and column selection on big frames without pandas' overhead and copies.

At 12M rows, ``df.loc[mask]`` in pandas 3 spends most of its time building an index
of the kept positions (~0.5 s per column here); selecting on each column's own
array is far faster and gives the same frame with a fresh RangeIndex. Columns are
selected on a few threads: NumPy and Arrow release the GIL while copying, and the
page faults of a fresh multi-GB result are then taken on both cores (5.0 s -> 1.7 s
for the 12M-row behaviour history on the 2-core machine).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

_THREADED_ROWS = 200_000  # below this, threads cost more than they save


def _select(column: pd.Series, rows: np.ndarray):
    if isinstance(column.dtype, np.dtype):
        return column.to_numpy()[rows]
    if isinstance(column.dtype, pd.CategoricalDtype):
        return pd.Categorical.from_codes(column.cat.codes.to_numpy()[rows], dtype=column.dtype)
    return column.array[rows]


def take_rows(df: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """``df.loc[rows].reset_index(drop=True)`` for a boolean mask or integer positions."""
    rows = np.asarray(rows)
    names = list(df.columns)
    if len(df) < _THREADED_ROWS or len(names) < 2:
        selected = [_select(df[name], rows) for name in names]
    else:
        workers = min(4, os.cpu_count() or 1, len(names))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            selected = list(pool.map(lambda name: _select(df[name], rows), names))
    return pd.DataFrame(dict(zip(names, selected, strict=True)), columns=df.columns, copy=False)


def select_columns(df: pd.DataFrame, columns) -> pd.DataFrame:
    """``df[list(columns)]`` without copying the data (a list selection copies every column).

    The transforms end with it to write a table with exactly its contract columns, in order.
    """
    names = list(columns)
    if list(df.columns) == names:
        return df
    return pd.DataFrame({name: df[name] for name in names}, copy=False)
