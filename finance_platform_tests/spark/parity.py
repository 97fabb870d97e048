"""Table comparison for the parity tests: same keys, exact labels, floats within 1e-9 relative."""

import math

import pandas as pd

REL_TOL = 1e-9


def _normalise(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            out[col] = s.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")
        elif pd.api.types.is_datetime64_any_dtype(s):
            out[col] = s.astype("datetime64[us]")
    return out


def _by_key(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Rows ordered by the keys' values (categoricals by value, not category order)."""
    sort_keys = pd.DataFrame({f"_k{i}": frame[k].astype(str) for i, k in enumerate(keys)})
    order = sort_keys.sort_values(list(sort_keys.columns), kind="stable").index
    return frame.loc[order].reset_index(drop=True)


def _is_float(series: pd.Series) -> bool:
    return pd.api.types.is_float_dtype(series.dtype)


def _same_scalar(a, b) -> bool:
    if a is None or (isinstance(a, float) and math.isnan(a)) or a is pd.NaT or a is pd.NA:
        return b is None or (isinstance(b, float) and math.isnan(b)) or b is pd.NaT or b is pd.NA
    if isinstance(a, float) or isinstance(b, float):
        try:
            return math.isclose(float(a), float(b), rel_tol=REL_TOL, abs_tol=1e-12)
        except (TypeError, ValueError):
            return False
    return a == b


def assert_same_table(expected: pd.DataFrame, actual: pd.DataFrame, keys: list[str], name: str):
    """``expected`` (local DuckDB engine) and ``actual`` (Spark engine) hold the same table.

    Spark's internal ``_``-prefixed columns (file order) are never written, so ignored here.
    """
    actual = actual[[c for c in actual.columns if not c.startswith("_")]]
    assert list(actual.columns) == list(expected.columns), (
        f"{name}: columns differ\n local: {list(expected.columns)}\n spark:  {list(actual.columns)}"
    )
    assert len(actual) == len(expected), f"{name}: {len(expected)} rows (local) vs {len(actual)}"
    exp, act = _by_key(_normalise(expected), keys), _by_key(_normalise(actual), keys)
    assert exp[keys].astype(str).equals(act[keys].astype(str)), f"{name}: keys differ"
    for col in exp.columns:
        e, a = exp[col], act[col]
        if _is_float(e) or _is_float(a):
            ef = pd.to_numeric(e, errors="coerce").astype("float64").to_numpy()
            af = pd.to_numeric(a, errors="coerce").astype("float64").to_numpy()
            bad = [i for i in range(len(ef)) if not _same_scalar(float(ef[i]), float(af[i]))]
        else:
            el, al = e.astype(object).tolist(), a.astype(object).tolist()
            bad = [i for i in range(len(el)) if not _same_scalar(el[i], al[i])]
        if bad:
            sample = [(exp.loc[i, keys].tolist(), e.iloc[i], a.iloc[i]) for i in bad[:5]]
            raise AssertionError(
                f"{name}.{col}: {len(bad)} of {len(exp)} values differ "
                f"(key, local, spark): {sample}"
            )
