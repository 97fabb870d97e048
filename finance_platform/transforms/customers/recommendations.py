"""Product recommendations and the ranked marketing target list.

score (0..100) = 100 * sum(weight * signal) with ``rules.PRODUCT_WEIGHTS``;
purchase_probability = logistic(``PROBABILITY_SLOPE`` * (score/100 - 0.5) + contact offset);
expected_value = rate * a balance or income (``rules.EXPECTED_VALUE``, CNY per year);
priority_score = score * purchase_probability * expected_value.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from finance_platform.transforms.customers import contract, rules
from finance_platform.transforms.customers.frames import select_columns, take_rows

SIGNAL_SOURCES = sorted({source for _, source, _, _ in rules.PRODUCT_SIGNALS})


def signals(features: pd.DataFrame) -> pd.DataFrame:
    """Normalised 0..1 signals of ``rules.PRODUCT_SIGNALS``."""
    out = {}
    for name, source, kind, param in rules.PRODUCT_SIGNALS:
        col = features[source]
        if kind == "cap":
            value = (col.astype("float64") / param).clip(0, 1)
        elif kind == "flag":
            value = col.astype("float64")
        elif kind == "not_flag":
            value = 1 - col.astype("float64")
        elif kind == "ge":
            value = (col.astype("float64") >= param).astype("float64")
        elif kind == "eq":
            value = (col.astype("str") == param).astype("float64")
        elif kind == "score":
            value = (col.astype("float64") / 100).clip(0, 1)
        else:  # pragma: no cover - guarded by rules tests
            raise ValueError(f"unknown signal kind {kind!r}")
        out[name] = value.fillna(0).to_numpy()
    return pd.DataFrame(out, index=features.index)


def probability(score: np.ndarray, offset: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(rules.PROBABILITY_SLOPE * (score / 100.0 - 0.5) + offset)))


def product_recommendations(features: pd.DataFrame, segments: pd.DataFrame) -> pd.DataFrame:
    """Every customer x every product: score, probability, expected value, priority.

    ``customer_id`` is categorical (stored dictionary-encoded): four rows per customer
    share one string, and ranking reads its codes instead of hashing 4 x N strings.
    """
    sig = signals(features)
    offsets = (
        features["contact_result_code"].astype("str").map(rules.CONTACT_OFFSET).fillna(0.0)
    ).to_numpy("float64")
    seg = (
        segments.drop_duplicates("customer_id")
        .set_index("customer_id")["segment_id"]
        .astype("str")
        .reindex(features["customer_id"].to_numpy())
    )
    customer = pd.Categorical(features["customer_id"].astype("str"))
    segment = pd.Categorical(seg.to_numpy())
    n = len(features)
    frames = []
    for rank, product in enumerate(rules.PRODUCTS):
        score = np.zeros(n)
        for signal, weight in rules.PRODUCT_WEIGHTS[product].items():
            score += weight * sig[signal].to_numpy()
        score = np.round(100 * score, 2)
        prob = np.round(probability(score, offsets), 4)
        source, rate = rules.EXPECTED_VALUE[product]
        value = np.round(rate * features[source].to_numpy("float64").clip(min=0), 2)
        frames.append(
            pd.DataFrame(
                {
                    "customer_id": customer,
                    "segment_id": segment,
                    "product": pd.Categorical.from_codes(
                        np.full(n, rank, dtype=np.int8), categories=list(rules.PRODUCTS)
                    ),
                    "product_rank": np.full(n, rank, dtype=np.int64),
                    "score": score,
                    "purchase_probability": prob,
                    "expected_value": value,
                    "priority_score": np.round(score * prob * value, 2),
                }
            )
        )
    return select_columns(
        pd.concat(frames, ignore_index=True), contract.PRODUCT_RECOMMENDATIONS.columns
    )


def in_cool_period(cool_until: pd.Series, run_date: dt.date) -> np.ndarray:
    """True when ``run_date`` is before ``marketing_cool_period`` (no contact before that date)."""
    run = np.datetime64(run_date, "D")
    return (cool_until.to_numpy("datetime64[D]") > run) & ~pd.isna(cool_until.to_numpy())


def marketing_targets(
    recommendations: pd.DataFrame,
    features: pd.DataFrame,
    segments: pd.DataFrame,
    run_date: dt.date,
) -> pd.DataFrame:
    """One ranked row per targeted customer: their best product by priority.

    Excluded: customers inside their cool period on ``run_date``; customers whose
    cool-period status is unknown (``cool_period_known`` false: their newest snapshot was
    quarantined or is missing, so the cool period on hand may be outdated); customers whose
    best product misses ``MIN_TARGET_SCORE`` or ``MIN_TARGET_PROBABILITY``. Ties:
    higher priority first, then product order; ranks break ties by ``customer_id``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    recs = recommendations
    codes = _codes(recs)
    order = np.lexsort((recs["product_rank"].to_numpy(), -recs["priority_score"].to_numpy(), codes))
    sorted_codes = codes[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = sorted_codes[1:] != sorted_codes[:-1]
    best = recs.iloc[order[first]].reset_index(drop=True)
    best["customer_id"] = best["customer_id"].astype("str")
    info = features[["customer_id", "marketing_cool_period", "cool_period_known"]].merge(
        segments[["customer_id", "segment_name_en"]], on="customer_id", how="left"
    )
    info["customer_id"] = info["customer_id"].astype("str")
    best = best.merge(info, on="customer_id", how="left")
    cooling = in_cool_period(best["marketing_cool_period"], run_date)
    known = best["cool_period_known"].fillna(False).to_numpy(dtype=bool)
    eligible = (
        ~cooling
        & known
        & (best["score"].to_numpy() >= rules.MIN_TARGET_SCORE)
        & (best["purchase_probability"].to_numpy() >= rules.MIN_TARGET_PROBABILITY)
    )
    targets = take_rows(best, eligible)
    keys = pa.table(
        {
            "priority_score": targets["priority_score"].to_numpy(),
            "customer_id": pa.array(targets["customer_id"].astype("str")),
        }
    )
    ranking = pc.sort_indices(
        keys, sort_keys=[("priority_score", "descending"), ("customer_id", "ascending")]
    ).to_numpy()
    targets = targets.iloc[ranking].reset_index(drop=True)
    targets["target_rank"] = np.arange(1, len(targets) + 1, dtype=np.int64)
    product = targets["product"].astype("str")
    targets["reason"] = _reasons(
        targets["product"], targets["segment_id"], targets["segment_name_en"]
    )
    targets["recommended_product"] = pd.Categorical(product, categories=list(rules.PRODUCTS))
    targets["recommended_product_zh"] = targets["recommended_product"].cat.rename_categories(
        [rules.PRODUCT_NAMES_ZH[p] for p in rules.PRODUCTS]
    )
    targets["run_date"] = np.datetime64(run_date, "D").astype("datetime64[s]")
    return select_columns(targets, contract.MARKETING_TARGETS.columns)


def _reasons(product: pd.Series, segment_id: pd.Series, segment_name: pd.Series) -> pd.Categorical:
    """``<product reason>; segment <id> <name>``, built per distinct combination, not per row.

    The combination is one integer per row (factorized parts), so finding the distinct
    ones is a sort of integers, not of string tuples; categories keep first-seen order.
    """
    combined = np.zeros(len(product), dtype=np.int64)
    for part in (product, segment_id, segment_name):
        codes, uniques = pd.factorize(part)
        combined = combined * (len(uniques) + 1) + (codes + 1)
    _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
    appearance = np.argsort(first, kind="stable")
    rank = np.empty(len(appearance), dtype=np.int64)
    rank[appearance] = np.arange(len(appearance))
    rows = first[appearance]
    texts = [
        f"{rules.PRODUCT_REASONS.get(p, p)}; segment {s} {n}"
        for p, s, n in zip(
            product.iloc[rows].astype("str"),
            segment_id.iloc[rows].astype("str"),
            segment_name.iloc[rows].astype("str"),
            strict=True,
        )
    ]
    return pd.Categorical.from_codes(rank[inverse.ravel()], categories=texts)


def _codes(recs: pd.DataFrame) -> np.ndarray:
    col = recs["customer_id"]
    if isinstance(col.dtype, pd.CategoricalDtype):
        return col.cat.codes.to_numpy().astype(np.int64)
    codes, _ = pd.factorize(col)
    return codes
