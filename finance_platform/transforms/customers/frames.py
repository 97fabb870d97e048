"""Row selection on big frames without pandas' boolean ``.loc`` overhead.

At 12M rows, ``df.loc[mask]`` in pandas 3 spends most of its time building an index
of the kept positions (~0.5 s per column here); selecting on each column's own
array is ~30x faster and gives the same frame with a fresh RangeIndex.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def take_rows(df: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """``df.loc[rows].reset_index(drop=True)`` for a boolean mask or integer positions."""
    rows = np.asarray(rows)
    columns: dict[str, object] = {}
    for name in df.columns:
        column = df[name]
        if isinstance(column.dtype, np.dtype):
            columns[name] = column.to_numpy()[rows]
        elif isinstance(column.dtype, pd.CategoricalDtype):
            codes = column.cat.codes.to_numpy()[rows]
            columns[name] = pd.Categorical.from_codes(codes, dtype=column.dtype)
        else:
            columns[name] = column.array[rows]
    return pd.DataFrame(columns, columns=df.columns, copy=False)
