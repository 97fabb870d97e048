"""Segmentation: every customer in exactly one segment of ``rules.SEGMENT_RULES``.

Flags come from ``rules.SEGMENT_FLAGS``; rules are tried in table order and the
first whose conditions all hold wins (a Spark port is one chained ``F.when``).
"""

from __future__ import annotations

import operator

import numpy as np
import pandas as pd

from finance_platform.transforms.customers import contract, rules
from finance_platform.transforms.customers.frames import select_columns

_OPS = {
    "==": operator.eq,
    "!=": operator.ne,
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
}


def condition(df: pd.DataFrame, column: str, op: str, value) -> np.ndarray:
    """One ``(column, op, value)`` condition as a boolean array."""
    series = df[column]
    if isinstance(value, str):
        series = series.astype("str")
    return np.asarray(_OPS[op](series, value), dtype=bool)


def segment_flags(features: pd.DataFrame) -> pd.DataFrame:
    """The boolean axes the segment rules test."""
    return pd.DataFrame(
        {flag: condition(features, col, op, value) for flag, col, op, value in rules.SEGMENT_FLAGS},
        index=features.index,
    )


def assign_segments(features: pd.DataFrame) -> pd.DataFrame:
    """``customer_id``, ``segment_id``, names (English and Chinese), characteristics, flags."""
    flags = segment_flags(features)
    choices = []
    for rule in rules.SEGMENT_RULES:
        match = np.ones(len(features), dtype=bool)
        for column, op, value in rule["when"]:
            match &= condition(flags, column, op, value)
        choices.append(match)
    index = np.select(choices, np.arange(len(rules.SEGMENT_RULES)), default=-1)
    if (index < 0).any():  # the catch-all rule makes this impossible unless rules.py changes
        raise ValueError(f"{int((index < 0).sum())} customers match no segment rule")
    table = segment_table()
    picked = table.iloc[index].reset_index(drop=True)
    out = pd.concat(
        [features[["customer_id"]].reset_index(drop=True), picked, flags.reset_index(drop=True)],
        axis=1,
    )
    for col in (*contract.SEGMENT_NAMES, "segment_characteristics"):
        out[col] = out[col].astype("category")
    return select_columns(out, contract.CUSTOMER_SEGMENTS.columns)


def segment_table() -> pd.DataFrame:
    """The segment catalogue from the rules, one row per segment, in rule order."""
    return pd.DataFrame(
        {
            "segment_id": [r["id"] for r in rules.SEGMENT_RULES],
            "segment_name": [f"{r['en']} / {r['zh']}" for r in rules.SEGMENT_RULES],
            "segment_name_en": [r["en"] for r in rules.SEGMENT_RULES],
            "segment_name_zh": [r["zh"] for r in rules.SEGMENT_RULES],
            "segment_characteristics": [r["characteristics"] for r in rules.SEGMENT_RULES],
        }
    )


def segment_profiles(segments: pd.DataFrame, features: pd.DataFrame) -> pd.DataFrame:
    """One row per segment (empty ones included, size 0): size, share and averages."""
    averaged = list(contract.PROFILE_AVERAGES)
    joined = segments[["customer_id", "segment_id"]].merge(
        features[["customer_id", *averaged]], on="customer_id", how="left"
    )
    joined["segment_id"] = joined["segment_id"].astype("str")
    grouped = joined.groupby("segment_id", observed=True)
    stats = grouped[averaged].mean().round(2)
    stats.columns = [f"avg_{c}" for c in stats.columns]
    stats["customers"] = grouped.size()
    table = segment_table().merge(stats.reset_index(), on="segment_id", how="left")
    table["customers"] = table["customers"].fillna(0).astype("int64")
    total = max(int(table["customers"].sum()), 1)
    table["share"] = (table["customers"] / total).round(4)
    return select_columns(table, contract.SEGMENT_PROFILES.columns)
