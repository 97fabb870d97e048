"""Features: the current view per customer, lifecycle/asset/engagement scores, trends.

All aggregates are per customer over that customer's own latest months (sums
over a window, no ordering tricks), so a Spark ``groupBy`` gives the same numbers.
``as_of`` is the last day of the newest ``stat_month`` in the data, never the wall
clock, so re-running on the same files gives the same features.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from finance_platform.transforms.customers import contract, rules
from finance_platform.transforms.customers.frames import select_columns, take_rows


def as_of_date(behavior: pd.DataFrame) -> pd.Timestamp:
    """Last day of the newest snapshot month."""
    newest = int(behavior["month_index"].max())
    year, month = divmod(newest, 12)
    return pd.Timestamp(year=1970 + year, month=month + 1, day=1) + pd.offsets.MonthEnd(0)


def _codes(customer_id: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes per customer (free for categorical input) and the ids as text."""
    codes, uniques = pd.factorize(customer_id, sort=False)
    return codes, pd.Index(np.asarray(uniques, dtype=object)).astype("str")


def _window_mask(codes: np.ndarray, months: np.ndarray, latest: np.ndarray, window: int):
    return months > latest[codes] - window


def current_view(behavior: pd.DataFrame, coded=None) -> pd.DataFrame:
    """Each customer's latest monthly snapshot (the redundant history is kept elsewhere)."""
    codes, uniques = coded or _codes(behavior["customer_id"])
    months = behavior["month_index"].to_numpy()
    latest = np.full(len(uniques), np.iinfo(np.int64).min)
    np.maximum.at(latest, codes, months)
    rows = months == latest[codes]
    cols = [c for c in contract.CURRENT_COLUMNS if c in behavior.columns]
    out = take_rows(behavior[cols], rows)
    out["customer_id"] = out["customer_id"].astype("str")
    return out


def _window_averages(behavior: pd.DataFrame, window: int, columns, coded=None) -> pd.DataFrame:
    codes, uniques = coded or _codes(behavior["customer_id"])
    months = behavior["month_index"].to_numpy()
    latest = np.full(len(uniques), np.iinfo(np.int64).min)
    np.maximum.at(latest, codes, months)
    inside = _window_mask(codes, months, latest, window)
    n = np.bincount(codes[inside], minlength=len(uniques)).astype("float64")
    out = {"customer_id": uniques}
    for col in columns:
        total = np.bincount(
            codes[inside], weights=behavior[col].to_numpy("float64")[inside], minlength=len(uniques)
        ).astype("float64")  # an empty bincount is int64, whatever the weights
        out[col] = np.divide(total, n, out=np.zeros_like(total), where=n > 0)
    return pd.DataFrame(out)


def lifecycle_score(lifecycle_code: pd.Series, tenure_years: pd.Series) -> pd.Series:
    """0..100: the stage's base score plus points per year of tenure (capped)."""
    base = lifecycle_code.astype("str").map(rules.LIFECYCLE_BASE_SCORE).fillna(0).astype("float64")
    tenure = tenure_years.clip(lower=0, upper=rules.TENURE_CAP_YEARS).fillna(0)
    return (base + tenure * rules.TENURE_POINTS_PER_YEAR).clip(0, 100).round(2)


def quantile_bins(values: pd.Series, customer_id: pd.Series, bins: int) -> pd.Series:
    """1..bins by rank of (value, customer_id); see rules.py for the exact definition."""
    n = len(values)
    if n == 0:
        return pd.Series([], dtype="int64")
    import pyarrow as pa
    import pyarrow.compute as pc

    keys = pa.table({"v": values.to_numpy("float64"), "id": pa.array(customer_id.astype("str"))})
    order = pc.sort_indices(keys, sort_keys=[("v", "ascending"), ("id", "ascending")]).to_numpy()
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    return pd.Series(rank * bins // n + 1, index=values.index, dtype="int64")


def engagement_parts(
    days_since_login: pd.Series,
    avg_logins: pd.Series,
    avg_investments: pd.Series,
    spend: pd.Series,
    assets: pd.Series,
) -> pd.DataFrame:
    """RFM parts in 0..1 and ``engagement_score`` in 0..100."""
    recency = 1 - days_since_login.fillna(rules.RECENCY_WINDOW_DAYS) / rules.RECENCY_WINDOW_DAYS
    recency = recency.clip(0, 1)
    frequency = 0.5 * (avg_logins / rules.LOGIN_CAP).clip(0, 1) + 0.5 * (
        avg_investments / rules.INVESTMENT_CAP
    ).clip(0, 1)
    monetary = 0.5 * (np.log1p(spend.clip(lower=0)) / np.log1p(rules.SPEND_CAP)).clip(
        0, 1
    ) + 0.5 * (np.log1p(assets.clip(lower=0)) / np.log1p(rules.ASSET_CAP)).clip(0, 1)
    w = rules.ENGAGEMENT_WEIGHTS
    score = 100 * (w["recency"] * recency + w["frequency"] * frequency + w["monetary"] * monetary)
    return pd.DataFrame(
        {
            "recency_score": recency.round(4),
            "frequency_score": frequency.round(4),
            "monetary_score": monetary.round(4),
            "engagement_score": score.round(2),
        }
    )


def cross_sell_index(df: pd.DataFrame) -> pd.Series:
    """0..100 breadth of holdings, weighted by how hard each product is to sell."""
    total = sum(w * df[c].astype("float64") for c, w in rules.CROSS_SELL_WEIGHTS.items())
    return (100 * total).round(2)


def month_text(index: pd.Series) -> pd.Series:
    """Months since 1970-01 -> ``YYYY-MM`` (missing -> empty)."""
    values = index.astype("Int64")
    years = (values // 12 + 1970).astype("str").str.zfill(4)
    months = (values % 12 + 1).astype("str").str.zfill(2)
    return (years + "-" + months).where(values.notna(), "").astype("str")


def view_status(
    customer_id: pd.Series,
    latest_clean: pd.Series,
    quarantined: pd.DataFrame | None,
    newest_clean: int | None,
) -> pd.DataFrame:
    """Where each customer's current view comes from (``rules.VIEW_*``), per customer row.

    ``latest_clean``: month index of the customer's newest clean snapshot (missing if none);
    ``quarantined``: the behaviour quarantine's ``customer_id`` and ``stat_month`` (text).
    The delivery's newest month is the newest of either. A view is ``current`` only when it
    is the customer's snapshot of that month and no later (or undated) one of theirs was
    quarantined; only then is the customer's cool-period status known.
    """
    from finance_platform.transforms.customers.cleaning import month_index

    latest = latest_clean.astype("float64").to_numpy()
    q_latest = np.full(len(latest), np.nan)
    q_undated = np.zeros(len(latest), dtype=bool)
    newest = float(newest_clean) if newest_clean is not None else np.nan
    if quarantined is not None and len(quarantined):
        q = quarantined.loc[:, ["customer_id", "stat_month"]].copy()
        q = q[q["customer_id"].notna() & (q["customer_id"].astype("str").str.strip() != "")]
        months = month_index(q["stat_month"]).astype("float64")
        if months.notna().any():
            newest = np.nanmax([newest, float(months.max())])
        ids = q["customer_id"].astype("str").to_numpy()
        frame = pd.DataFrame({"customer_id": ids, "month": months.to_numpy()})
        per = frame.groupby("customer_id").agg(
            latest=("month", "max"), undated=("month", lambda m: m.isna().any())
        )
        keys = customer_id.astype("str").to_numpy()
        q_latest = per["latest"].reindex(keys).to_numpy(dtype="float64")
        q_undated = per["undated"].reindex(keys).fillna(False).to_numpy(dtype=bool)
    missing = np.isnan(latest)
    with np.errstate(invalid="ignore"):
        behind = (latest < newest) | (latest < q_latest) | q_undated
    status = np.where(
        missing, rules.VIEW_MISSING, np.where(behind, rules.VIEW_STALE, rules.VIEW_CURRENT)
    )
    raw_latest = np.fmax(latest, q_latest)
    return pd.DataFrame(
        {
            "latest_raw_stat_month": month_text(pd.Series(raw_latest).round().astype("Int64")),
            "current_view_status": pd.array(status, dtype="str"),
            "cool_period_known": status == rules.VIEW_CURRENT,
        },
        index=customer_id.index,
    )


def customer_features(
    base: pd.DataFrame, behavior: pd.DataFrame, quarantined: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per cleaned customer (no name): current view, scores, tiers.

    Customers without any valid behaviour row keep zero amounts and
    ``has_behavior = False`` so they still get a segment. ``quarantined`` (the behaviour
    quarantine's ids and months) tells current views from stale ones (``view_status``).
    """
    as_of = as_of_date(behavior) if len(behavior) else pd.Timestamp("1970-01-31")
    coded = _codes(behavior["customer_id"])  # hash the 12M ids once
    current = current_view(behavior, coded)
    averages = _window_averages(
        behavior, rules.FREQUENCY_MONTHS, ("app_login_count", "investment_monthly_count"), coded
    ).rename(
        columns={
            "app_login_count": "avg_logins_3m",
            "investment_monthly_count": "avg_investments_3m",
        }
    )
    profile = base.loc[:, list(contract.PROFILE_COLUMNS)]
    df = profile.merge(current, on="customer_id", how="left").merge(
        averages, on="customer_id", how="left"
    )
    df["has_behavior"] = df["month_index"].notna()
    for col in rules.ZERO_FILLED_FEATURES:
        df[col] = df[col].fillna(0)
    for col in rules.COUNT_FEATURES:
        df[col] = df[col].astype("int64")
    code = df["contact_result_code"].astype("str")
    df["contact_result_code"] = code.where(df["has_behavior"], rules.NO_CONTACT)
    df["as_of_date"] = as_of.to_datetime64().astype("datetime64[s]")
    tenure = (as_of - df["open_account_date"]).dt.days / 365.25
    df["tenure_years"] = tenure.round(2)
    df["lifecycle_score"] = lifecycle_score(df["lifecycle_code"], tenure)
    df["log_total_assets"] = np.log1p(df["total_assets"].clip(lower=0)).round(6)
    df["asset_tier"] = quantile_bins(
        df["log_total_assets"], df["customer_id"], rules.ASSET_TIER_BINS
    )
    risky = df["financial_balance"] + df["fund_balance"]
    assets = df["total_assets"]
    df["risk_asset_share"] = (risky / assets.where(assets > 0)).fillna(0).clip(0, 1).round(4)
    days = (as_of - df["last_app_login_time"]).dt.total_seconds() / 86_400
    df["days_since_login"] = days.round(2)
    parts = engagement_parts(
        df["days_since_login"],
        df["avg_logins_3m"],
        df["avg_investments_3m"],
        df["credit_card_monthly_expense"],
        df["total_assets"],
    )
    df = pd.concat([df, parts], axis=1)
    df["product_cross_sell_index"] = cross_sell_index(df)
    newest = int(behavior["month_index"].max()) if len(behavior) else None
    status = view_status(df["customer_id"], df["month_index"], quarantined, newest)
    df = df.rename(columns={"stat_month": "latest_stat_month"})
    df["latest_stat_month"] = df["latest_stat_month"].astype("str")
    df = pd.concat([df, status], axis=1)
    return select_columns(df, contract.CUSTOMER_FEATURES.columns)


def behavior_metrics(behavior: pd.DataFrame) -> pd.DataFrame:
    """3- and 6-month trends of assets, card spend and logins per customer.

    ``<metric>_trend_<w>m`` = least-squares slope per month over the customer's
    last ``w`` months divided by the mean over those months (relative monthly
    change; null with fewer than 2 months or a zero mean). Sums only, so Spark
    computes it with one ``groupBy().agg(sum...)``.
    """
    codes, uniques = _codes(behavior["customer_id"])
    k = len(uniques)
    months = behavior["month_index"].to_numpy()
    latest = np.full(k, np.iinfo(np.int64).min)
    np.maximum.at(latest, codes, months)
    out: dict[str, object] = {"customer_id": uniques}
    out["months_observed"] = np.bincount(codes, minlength=k)
    for window in rules.TREND_WINDOWS:
        inside = _window_mask(codes, months, latest, window)
        c = codes[inside]
        x = (months[inside] - latest[c]).astype("float64")  # -w+1 .. 0
        n = np.bincount(c, minlength=k).astype("float64")
        sx = np.bincount(c, weights=x, minlength=k)
        sxx = np.bincount(c, weights=x * x, minlength=k)
        denom = n * sxx - sx * sx
        for metric in rules.TREND_METRICS:
            y = behavior[metric].to_numpy("float64")[inside]
            sy = np.bincount(c, weights=y, minlength=k)
            sxy = np.bincount(c, weights=x * y, minlength=k)
            with np.errstate(divide="ignore", invalid="ignore"):
                slope = (n * sxy - sx * sy) / denom
                mean = sy / n
                trend = slope / mean
            valid = (n >= 2) & (denom != 0) & (mean != 0)
            out[f"{metric}_avg_{window}m"] = np.round(np.where(n > 0, mean, np.nan), 2)
            out[f"{metric}_trend_{window}m"] = np.round(np.where(valid, trend, np.nan), 6)
    out["latest_month_index"] = latest
    return select_columns(pd.DataFrame(out), contract.BEHAVIOR_METRICS.columns)
