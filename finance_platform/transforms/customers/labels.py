"""Chinese label -> English code mapping (the raw label is kept beside the code)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from finance_platform.transforms.customers.rules import UNKNOWN


def map_codes(labels: pd.Series, mapping: Mapping[str, str], unknown: str = UNKNOWN) -> pd.Series:
    """English codes for ``labels``; labels outside ``mapping`` (or missing) become ``unknown``.

    Works on the (few) distinct values, not per row, so 12M rows cost one factorize.
    """
    codes, uniques = pd.factorize(labels, use_na_sentinel=True)
    mapped = [mapping.get(str(u), unknown) for u in uniques]
    categories = list(dict.fromkeys([*mapping.values(), unknown]))
    # the trailing ``unknown`` is what factorize's -1 (missing) indexes
    lookup = pd.Categorical(mapped + [unknown], categories=categories)
    out = pd.Categorical.from_codes(lookup.codes[codes], categories=categories)
    return pd.Series(out, index=labels.index, name=labels.name)


def add_codes(df: pd.DataFrame, specs) -> pd.DataFrame:
    """Add ``(raw, code, mapping)`` code columns to ``df`` (in place, returned for chaining)."""
    for raw, code, mapping in specs:
        df[code] = map_codes(df[raw], mapping)
    return df
