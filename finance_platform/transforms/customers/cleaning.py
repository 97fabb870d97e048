"""Cleaning: raw deliveries -> typed, de-duplicated, coded tables plus a quarantine.

Every raw row ends in exactly one place: the cleaned table, the quarantine
(with ``quarantine_reason``), or the count of removed duplicates (exact key
repeats; the first occurrence in file order is kept). Lines the CSV reader could
not split into the header's fields (``malformed``, e.g. the cut last line of a
truncated file) are quarantined too. Order of rules, the first failing one naming
the reason: empty key, duplicate key, bad number, bad date, domain rule (age
range, negative balance), then (behaviour) months that are 3-sigma outliers of
the customer's own history (``rules.OUTLIER_*``). Cross-sectional extremes are
counted (``CleanResult.extremes``), not removed.

The quarantine holds the rows as text (never the name), with a ``string`` schema
even when it is empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from finance_platform.transforms.customers import contract, rules
from finance_platform.transforms.customers.frames import select_columns, take_rows
from finance_platform.transforms.customers.labels import add_codes, map_codes


@dataclass(frozen=True)
class CleaningConfig:
    age_min: int = rules.AGE_MIN
    age_max: int = rules.AGE_MAX
    sigma: float = rules.OUTLIER_SIGMA


@dataclass
class CleanResult:
    """What cleaning produced, and the accounting that proves nothing was lost."""

    cleaned: pd.DataFrame
    quarantine: pd.DataFrame
    raw_rows: int
    duplicates_removed: int
    reasons: dict[str, int] = field(default_factory=dict)
    # per column: rows and customers beyond sigma of all rows (log scale), and the bounds (CNY)
    extremes: dict[str, dict] = field(default_factory=dict)

    @property
    def balanced(self) -> bool:
        return self.raw_rows == len(self.cleaned) + len(self.quarantine) + self.duplicates_removed


def missing_required_columns(columns, required) -> list[str]:
    """Contract columns absent from a delivery's header, in contract order."""
    present = set(columns)
    return [c for c in required if c not in present]


def extra_columns(columns, required) -> list[str]:
    """Columns a delivery carries beyond the contract (schema drift), in file order."""
    expected = set(required)
    return [c for c in columns if c not in expected]


class _Reasons:
    """First failing rule per row, as small ints (strings only for quarantined rows)."""

    def __init__(self, n: int) -> None:
        self.code = np.zeros(n, dtype=np.int16)
        self.labels: list[str] = [""]

    def flag(self, mask, label: str) -> None:
        mask = np.asarray(mask, dtype=bool) & (self.code == 0)
        if mask.any():
            if label not in self.labels:
                self.labels.append(label)
            self.code[mask] = self.labels.index(label)

    @property
    def ok(self) -> np.ndarray:
        return self.code == 0

    def strings(self, mask: np.ndarray) -> pd.Series:
        return pd.Series(np.asarray(self.labels, dtype=object)[self.code[mask]], dtype="str")

    def counts(self, mask: np.ndarray) -> dict[str, int]:
        values = np.bincount(self.code[mask], minlength=len(self.labels))
        return {label: int(values[i]) for i, label in enumerate(self.labels) if i and values[i]}


def _empty(s: pd.Series) -> np.ndarray:
    """Missing or blank; a categorical column is judged on its few categories, not per row."""
    if isinstance(s.dtype, pd.CategoricalDtype):
        blank = np.asarray(s.cat.categories.astype("str").str.strip() == "")
        codes = s.cat.codes.to_numpy()
        return (codes < 0) | blank[np.clip(codes, 0, None)] if len(blank) else codes < 0
    return (s.isna() | (s.astype("str").str.strip() == "")).to_numpy()


def _numeric(s: pd.Series, integer: bool) -> tuple[pd.Series, np.ndarray]:
    """Parsed numbers and the mask of values that were present but did not parse."""
    if pd.api.types.is_numeric_dtype(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
        parsed = s.astype("float64")
        bad = parsed.isna().to_numpy()
    else:
        parsed = pd.to_numeric(s.astype("str").str.strip(), errors="coerce").astype("float64")
        bad = parsed.isna().to_numpy()
    if integer:
        values = parsed.to_numpy(dtype="float64", na_value=np.nan)
        bad = bad | ~np.isfinite(values) | (np.nan_to_num(values) % 1 != 0)
    return parsed, bad


def _parse_dates(s: pd.Series, formats: tuple[tuple[str, str], ...]) -> pd.Series:
    """Dates/datetimes in one of ``formats`` (the first that fits; else NaT), as datetime64[s].

    Categorical columns parse only their distinct values; text goes through pyarrow's
    strptime (Spark: ``try_to_timestamp`` per pattern, coalesced). Later formats are
    tried only on the values the earlier ones did not read.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = _parse_dates(pd.Series(s.cat.categories.astype("str")), formats).to_numpy()
        codes = s.cat.codes.to_numpy()
        values = np.where(codes >= 0, cats[np.clip(codes, 0, None)], np.datetime64("NaT"))
        return pd.Series(values.astype("datetime64[s]"), index=s.index)
    text = pa.array(s.astype("str"), from_pandas=True) if s.dtype != "str" else pa.array(s)
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    text = text.cast(pa.string())
    first, *others = (fmt for fmt, _spark in formats)
    parsed = pc.strptime(text, format=first, unit="s", error_is_null=True)
    values = parsed.to_numpy(zero_copy_only=False).astype("datetime64[s]")
    for fmt in others:
        pending = np.flatnonzero(np.isnat(values) & ~text.is_null().to_numpy(zero_copy_only=False))
        if not pending.size:
            break
        retry = pc.strptime(text.take(pending), format=fmt, unit="s", error_is_null=True)
        values[pending] = retry.to_numpy(zero_copy_only=False).astype("datetime64[s]")
    return pd.Series(values, index=s.index)


def _log_amount(values: pd.Series) -> np.ndarray:
    return np.log1p(np.clip(values.to_numpy(dtype="float64", na_value=np.nan), 0, None))


def cross_sectional_extremes(
    values: pd.Series, keys: pd.Series, sigma: float
) -> dict[str, float | int]:
    """Rows (and distinct ``keys``) beyond ``sigma`` population std of all rows on log1p scale.

    The rich and the small customers of a bank: reported, never removed. Bounds in CNY.
    """
    x = _log_amount(values)
    finite = np.isfinite(x)
    if finite.sum() < 2:
        return {"rows": 0, "customers": 0, "low": None, "high": None}
    mean, std = x[finite].mean(), x[finite].std()
    low, high = mean - sigma * std, mean + sigma * std
    beyond = finite & ((x < low) | (x > high))
    return {
        "rows": int(beyond.sum()),
        "customers": int(pd.Series(keys.to_numpy()[beyond]).nunique()),
        "low": rules.amount_bound(low),
        "high": rules.amount_bound(high),
    }


def own_history_outliers(
    codes: np.ndarray, values: pd.Series, ok: np.ndarray, sigma: float
) -> np.ndarray:
    """Months that are data errors against the same customer's other months (``rules.py``).

    ``codes``: the customer of each row (integers >= 0); ``ok``: rows that passed every
    other rule. For each such row, the mean and population std of log1p(amount) over the
    customer's *other* ok rows (leave-one-out, from centred sums), and the row is an outlier
    when it is beyond ``sigma`` of them and at least ``OUTLIER_MIN_FACTOR`` off their mean.
    """
    x = _log_amount(values)
    use = ok & np.isfinite(x) & (codes >= 0)
    out = np.zeros(len(x), dtype=bool)
    if not use.any():
        return out
    k = int(codes[use].max()) + 1
    c = codes[use]
    n = np.bincount(c, minlength=k).astype("float64")
    mean = np.bincount(c, weights=x[use], minlength=k) / np.maximum(n, 1)
    d = x[use] - mean[c]
    centred = np.bincount(c, weights=d * d, minlength=k)
    n_row = n[c]
    others = n_row - 1
    enough = others >= rules.OUTLIER_MIN_OTHER_MONTHS
    with np.errstate(divide="ignore", invalid="ignore"):
        deviation = n_row * d / others  # row minus the mean of the customer's other months
        spread = np.sqrt(np.clip(centred[c] - n_row * d * d / others, 0, None) / others)
        beyond = np.abs(deviation) > sigma * spread
    material = np.abs(deviation) > np.log(rules.OUTLIER_MIN_FACTOR)
    out[np.flatnonzero(use)] = enough & beyond & material
    return out


def _as_text(df: pd.DataFrame) -> pd.DataFrame:
    """Every column as pandas ``str`` (missing stays missing): the quarantine's schema."""
    return pd.DataFrame(
        {c: df[c].astype("str") if df[c].dtype != "str" else df[c] for c in df.columns},
        columns=df.columns,
    )


def _finish(
    raw: pd.DataFrame,
    typed: pd.DataFrame,
    reasons: _Reasons,
    dup: np.ndarray,
    malformed: pd.DataFrame | None,
    columns: tuple[str, ...],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    keep = ~dup
    ok = reasons.ok & keep
    bad = ~reasons.ok & keep
    cleaned = take_rows(typed, ok)
    kept_columns = [c for c in columns if c not in rules.PII_COLUMNS]
    quarantine = _as_text(take_rows(raw.loc[:, kept_columns], bad))
    quarantine[contract.REASON] = pd.array(reasons.strings(bad).to_numpy(), dtype="str")
    if malformed is not None and len(malformed):
        lines = _as_text(malformed.reindex(columns=kept_columns))
        lines[contract.REASON] = pd.array([rules.REASON_MALFORMED] * len(lines), dtype="str")
        quarantine = pd.concat([quarantine, lines], ignore_index=True)
    return cleaned, quarantine


def _result(
    cleaned: pd.DataFrame,
    quarantine: pd.DataFrame,
    reasons: _Reasons,
    dup: np.ndarray,
    malformed: pd.DataFrame | None,
    extreme_columns: tuple[str, ...],
    sigma: float,
) -> CleanResult:
    """The accounting of one cleaning, checked to balance: every line is somewhere."""
    lines = len(malformed) if malformed is not None else 0
    counts = reasons.counts(~dup)
    if lines:
        counts[rules.REASON_MALFORMED] = lines
    extremes = {
        col: cross_sectional_extremes(cleaned[col], cleaned["customer_id"], sigma)
        for col in extreme_columns
    }
    result = CleanResult(cleaned, quarantine, len(dup) + lines, int(dup.sum()), counts, extremes)
    assert result.balanced
    return result


def clean_customer_base(
    raw: pd.DataFrame,
    config: CleaningConfig | None = None,
    malformed: pd.DataFrame | None = None,
) -> CleanResult:
    """Typed, de-duplicated customer profiles with English codes; bad rows quarantined.

    ``name`` stays in the cleaned table (it is the bank's record) but never in the
    quarantine, features or anything downstream. ``malformed``: lines of the delivery
    the reader could not split (contract columns as text), quarantined as such.
    """
    cfg = config or CleaningConfig()
    columns = contract.RAW_CUSTOMER_BASE.columns
    missing = missing_required_columns(raw.columns, columns)
    if missing:
        raise KeyError(f"customer_base is missing required column(s): {', '.join(missing)}")
    raw = raw.loc[:, list(columns)].reset_index(drop=True)
    n = len(raw)
    reasons = _Reasons(n)
    reasons.flag(_empty(raw["customer_id"]), rules.REASON_EMPTY_KEY)
    dup = raw["customer_id"].duplicated(keep="first").to_numpy() & reasons.ok
    typed = raw.copy(deep=False)  # new columns replace, raw keeps the text for the quarantine
    for col in (*rules.BASE_INT_COLUMNS, *rules.BASE_FLOAT_COLUMNS):
        parsed, bad = _numeric(raw[col], integer=col in rules.BASE_INT_COLUMNS)
        reasons.flag(bad, f"{rules.REASON_BAD_NUMBER}:{col}")
        typed[col] = parsed
    for col in rules.BASE_DATE_COLUMNS:
        typed[col] = _parse_dates(raw[col], rules.DATE_FORMATS)
        reasons.flag(typed[col].isna().to_numpy(), f"{rules.REASON_BAD_DATE}:{col}")
    age = typed["age"].to_numpy(dtype="float64", na_value=np.nan)
    reasons.flag((age < cfg.age_min) | (age > cfg.age_max), rules.REASON_AGE)
    reasons.flag(typed["monthly_income"].to_numpy(na_value=np.nan) < 0, rules.REASON_NEGATIVE)
    cleaned, quarantine = _finish(raw, typed, reasons, dup, malformed, columns)
    cleaned["age"] = cleaned["age"].astype("int64")
    cleaned["open_account_date"] = cleaned["open_account_date"].astype("datetime64[s]")
    occupation_codes = {label: code for label, (code, _) in rules.OCCUPATION.items()}
    cleaned["occupation_code"] = map_codes(cleaned["occupation"], occupation_codes)
    add_codes(cleaned, rules.BASE_LABELS)
    cleaned = select_columns(cleaned, contract.CLEANED_CUSTOMER_BASE.columns)
    return _result(
        cleaned, quarantine, reasons, dup, malformed, rules.BASE_EXTREME_COLUMNS, cfg.sigma
    )


def month_index(stat_month: pd.Series) -> pd.Series:
    """``YYYY-MM`` -> months since 1970-01 (nullable Int64; bad or missing -> <NA>)."""
    parsed = _parse_dates(stat_month, rules.MONTH_FORMATS)
    years = parsed.dt.year.astype("Int64")
    return (years - 1970) * 12 + parsed.dt.month.astype("Int64") - 1


def contact_codes(
    contact_result: pd.Series, last_contact_time: pd.Series
) -> tuple[pd.Series, pd.Series]:
    """(contact_result_code, contact_result_missing) per the documented no-imputation rule."""
    codes = map_codes(contact_result, rules.CONTACT_RESULT)
    missing = contact_result.isna()
    if not isinstance(contact_result.dtype, pd.CategoricalDtype):
        missing = missing | (contact_result.astype("str").str.strip() == "")
    no_contact = (missing & last_contact_time.isna()).to_numpy()
    categories = list(codes.cat.categories)
    if rules.NO_CONTACT not in categories:
        codes = codes.cat.add_categories([rules.NO_CONTACT])
    codes = codes.mask(no_contact, rules.NO_CONTACT)
    return codes, missing.to_numpy()


def repeated_keys(codes: np.ndarray, months: np.ndarray, max_slots: int = 1 << 26) -> np.ndarray:
    """Rows whose (customer code, month) key appeared earlier in file order.

    Same answer as ``duplicated(keep="first")`` on the pair, without hashing 12M keys:
    each pair gets a slot in a dense (customer x month) grid and one ``bincount``
    finds the slots used more than once; only those few rows are ordered by hashing.
    ``months`` of -1 (unparseable) share one extra column; a grid over ``max_slots``
    (months spread over centuries) falls back to hashing every key.
    """
    n = len(codes)
    if n == 0:
        return np.zeros(0, dtype=bool)
    valid = months >= 0
    low = int(months[valid].min()) if valid.any() else 0
    span = (int(months[valid].max()) - low + 2) if valid.any() else 1
    customers = int(codes.max()) + 2  # code -1 (no id) gets row 0
    slot = (codes.astype(np.int64) + 1) * span + np.where(valid, months - low + 1, 0)
    if customers * span > max_slots:
        return pd.Series(slot).duplicated(keep="first").to_numpy()
    shared = np.bincount(slot, minlength=customers * span)[slot] > 1
    out = np.zeros(n, dtype=bool)
    rows = np.flatnonzero(shared)
    if rows.size:
        out[rows] = pd.Series(slot[rows]).duplicated(keep="first").to_numpy()
    return out


def _parse_all_dates(raw: pd.DataFrame) -> dict[str, pd.Series]:
    """The behaviour file's date and datetime columns, parsed on parallel threads.

    Arrow's strptime releases the GIL, so the 12M-row text columns parse on both cores.
    """
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow.compute  # noqa: F401 - imported here: never import a module from two threads

    formats = {
        **{c: rules.DATETIME_FORMATS for c in rules.BEHAVIOR_DATETIME_COLUMNS},
        **{c: rules.DATETIME_FORMATS for c in rules.BEHAVIOR_NULLABLE_DATETIME_COLUMNS},
        **{c: rules.DATE_FORMATS for c in rules.BEHAVIOR_DATE_COLUMNS},
    }
    with ThreadPoolExecutor(max_workers=len(formats)) as pool:
        futures = {c: pool.submit(_parse_dates, raw[c], fmt) for c, fmt in formats.items()}
        return {c: future.result() for c, future in futures.items()}


def clean_customer_behavior(
    raw: pd.DataFrame,
    config: CleaningConfig | None = None,
    malformed: pd.DataFrame | None = None,
) -> CleanResult:
    """Typed monthly snapshots (full history), one row per (customer_id, stat_month)."""
    cfg = config or CleaningConfig()
    columns = contract.RAW_CUSTOMER_BEHAVIOR.columns
    missing = missing_required_columns(raw.columns, columns)
    if missing:
        raise KeyError(
            f"customer_behavior_assets is missing required column(s): {', '.join(missing)}"
        )
    raw = raw.loc[:, list(columns)].reset_index(drop=True)
    n = len(raw)
    reasons = _Reasons(n)
    reasons.flag(_empty(raw["customer_id"]) | _empty(raw["stat_month"]), rules.REASON_EMPTY_KEY)
    months = month_index(raw["stat_month"])
    cust_codes, cust_ids = pd.factorize(raw["customer_id"])
    dup = repeated_keys(cust_codes, months.fillna(-1).to_numpy(dtype=np.int64)) & reasons.ok
    reasons.flag(months.isna().to_numpy(), f"{rules.REASON_BAD_DATE}:stat_month")
    typed = raw.copy(deep=False)  # new columns replace, raw keeps the text for the quarantine
    for col in (*rules.BEHAVIOR_FLOAT_COLUMNS, *rules.BEHAVIOR_INT_COLUMNS):
        if pd.api.types.is_integer_dtype(raw[col].dtype) or pd.api.types.is_float_dtype(
            raw[col].dtype
        ):
            if raw[col].isna().any():
                reasons.flag(raw[col].isna().to_numpy(), f"{rules.REASON_BAD_NUMBER}:{col}")
            continue
        parsed, bad = _numeric(raw[col], integer=col in rules.BEHAVIOR_INT_COLUMNS)
        reasons.flag(bad, f"{rules.REASON_BAD_NUMBER}:{col}")
        typed[col] = parsed
    for col, parsed_dates in _parse_all_dates(raw).items():
        typed[col] = parsed_dates
    for col in rules.BEHAVIOR_DATETIME_COLUMNS:
        reasons.flag(typed[col].isna().to_numpy(), f"{rules.REASON_BAD_DATE}:{col}")
    for col in rules.BEHAVIOR_NULLABLE_DATETIME_COLUMNS:
        reasons.flag(
            typed[col].isna().to_numpy() & ~_empty(raw[col]),
            f"{rules.REASON_BAD_DATE}:{col}",
        )
    for col in rules.BEHAVIOR_DATE_COLUMNS:
        reasons.flag(typed[col].isna().to_numpy(), f"{rules.REASON_BAD_DATE}:{col}")
    negative = np.zeros(n, dtype=bool)
    for col in (*rules.BALANCE_COLUMNS, "credit_card_monthly_expense"):
        negative |= typed[col].to_numpy(dtype="float64", na_value=np.nan) < 0
    reasons.flag(negative, rules.REASON_NEGATIVE)
    for col in rules.BEHAVIOR_OUTLIER_COLUMNS:
        reasons.flag(
            own_history_outliers(cust_codes, typed[col], reasons.ok & ~dup, cfg.sigma),
            f"{rules.REASON_OUTLIER}:{col}",
        )
    typed["month_index"] = months
    # customer_id as categorical from the codes already computed: stored dictionary-encoded
    # (12M rows share 1M ids) and read back as codes, so features never re-hash the ids
    typed["customer_id"] = pd.Categorical.from_codes(
        np.where(cust_codes >= 0, cust_codes, -1), categories=pd.Index(cust_ids).astype("str")
    )
    cleaned, quarantine = _finish(raw, typed, reasons, dup, malformed, columns)
    del typed
    cleaned["month_index"] = cleaned["month_index"].astype("int64")
    for col in rules.BEHAVIOR_INT_COLUMNS:
        cleaned[col] = cleaned[col].astype("int64")
    for col in (
        *rules.BEHAVIOR_DATETIME_COLUMNS,
        *rules.BEHAVIOR_NULLABLE_DATETIME_COLUMNS,
        *rules.BEHAVIOR_DATE_COLUMNS,
    ):
        cleaned[col] = cleaned[col].astype("datetime64[s]")
    add_codes(cleaned, rules.BEHAVIOR_LABELS)
    codes, missing_flag = contact_codes(cleaned["contact_result"], cleaned["last_contact_time"])
    cleaned["contact_result_code"] = codes
    cleaned["contact_result_missing"] = missing_flag
    cleaned = select_columns(cleaned, contract.CLEANED_CUSTOMER_BEHAVIOR.columns)
    return _result(
        cleaned, quarantine, reasons, dup, malformed, rules.BEHAVIOR_EXTREME_COLUMNS, cfg.sigma
    )
