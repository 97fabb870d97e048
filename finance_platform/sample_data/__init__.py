"""Synthetic deliveries of the bank's two customer files, in the contract's exact format.

``generate(out_dir, customers, months, seed)`` writes one delivery:

    <out_dir>/customer_base/customer_base_<YYYYMMDD>.csv
    <out_dir>/customer_behavior_assets/customer_behavior_assets_<YYYYMMDD>.csv

``YYYYMMDD`` is the delivery date, so sorting file names orders deliveries
(the sensor and the raw assets take the greatest). Values follow
DATA_CONTRACT.md: Chinese labels, right-skewed assets whose parts add up to
``total_assets`` and whose ``asset_level`` agrees with it, ~20% of rows without
contact, and defects at configurable rates (duplicate rows, ages outside
18..100, unparseable dates, negative balances, months whose amounts were exported
in fen instead of yuan) for the checks to catch. All rates at 0 give a clean
delivery, the kind the bank sends.

``generate(..., base_file=PATH)`` writes only the behaviour file, for the customers
of an existing ``customer_base.csv`` (the bank's real one): their ids, and incomes
that shape their assets and spend.

Vectorised numpy + pyarrow; behaviour rows are written one month at a time so
1,000,000 customers x 12 months stays within a few GB.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from finance_platform.transforms.customers import rules

BASE_PREFIX = "customer_base"
BEHAVIOR_PREFIX = "customer_behavior_assets"

SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN_NAMES = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "霞",
    "平",
    "刚",
    "桂英",
    "建华",
    "文",
    "华",
    "红",
    "建国",
    "玉兰",
    "志强",
    "婷",
    "欣怡",
    "子涵",
    "浩然",
    "雨轩",
    "梓萱",
    "宇航",
    "思远",
    "佳怡",
    "俊杰",
    "晓东",
]
BRANCHES = [
    "招商银行上海分行外滩支行",
    "招商银行上海分行陆家嘴支行",
    "招商银行北京分行国贸支行",
    "招商银行北京分行中关村支行",
    "招商银行深圳分行福田支行",
    "招商银行深圳分行南山支行",
    "招商银行广州分行天河支行",
    "招商银行广州分行越秀支行",
    "招商银行杭州分行西湖支行",
    "招商银行南京分行新街口支行",
    "招商银行成都分行春熙路支行",
    "招商银行武汉分行江汉路支行",
    "招商银行西安分行高新支行",
    "招商银行苏州分行工业园区支行",
    "招商银行重庆分行解放碑支行",
    "招商银行天津分行滨海支行",
]
BAD_DATES = ["2024/13/45", "31-02-2020", "not a date", "20201301"]
BAD_DATETIMES = ["2025/06/31 10:00", "31-06-2025 10:00:00", "yesterday", "2025-13-01 25:61:00"]
BAD_AGES = [0, 5, 12, 16, 101, 120, 150, 230]
CONTACT_LABELS = ["成功", "未接通", "考虑中", "拒绝"]
CONTACT_P = np.array([37, 20, 16, 8], dtype=float) / 81
COOL_DAYS = np.array(
    [60, 14, 30, 90]
)  # per contact result: success, not reached, considering, refused

_HEX = np.array([f"{i:02x}".encode() for i in range(256)], dtype="S2")


@dataclass(frozen=True)
class DefectRates:
    """Share of rows carrying each defect (0 disables it)."""

    duplicates: float = 0.005
    bad_ages: float = 0.002
    bad_dates: float = 0.001
    negative_balances: float = 0.001
    missing_contact: float = 0.20
    # a monthly snapshot whose amounts are 100x (exported in fen, not yuan): a data error
    unit_errors: float = 0.0005

    @classmethod
    def none(cls, missing_contact: float = 0.20) -> DefectRates:
        """A clean delivery: no defect at all (missing contact results are not defects)."""
        return cls(0.0, 0.0, 0.0, 0.0, missing_contact, 0.0)


UNIT_ERROR_FACTOR = 100.0


def delivery_paths(out_dir: str | Path, delivery_date: dt.date) -> dict[str, Path]:
    stamp = delivery_date.strftime("%Y%m%d")
    out = Path(out_dir)
    return {
        BASE_PREFIX: out / BASE_PREFIX / f"{BASE_PREFIX}_{stamp}.csv",
        BEHAVIOR_PREFIX: out / BEHAVIOR_PREFIX / f"{BEHAVIOR_PREFIX}_{stamp}.csv",
    }


def _strings(values: list[str]):
    import pyarrow as pa

    return pa.array(values, type=pa.string())


def _uuid_hex(rng: np.random.Generator, n: int):
    """n uuid4 hex strings as a pyarrow string array, without a Python loop."""
    import pyarrow as pa

    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    data = _HEX[raw].tobytes()
    offsets = np.arange(0, 32 * (n + 1), 32, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data)).cast(
        pa.string()
    )


def _with_defects(arr, mask: np.ndarray, bad_pool: list, rng: np.random.Generator):
    import pyarrow as pa
    import pyarrow.compute as pc

    if not mask.any():
        return arr
    bad = pa.array(np.array(bad_pool, dtype=object)[rng.integers(0, len(bad_pool), len(mask))])
    return pc.if_else(pa.array(mask), bad.cast(arr.type), arr)


def _month_start(month_index: int) -> np.datetime64:
    return np.datetime64("1970-01", "M") + month_index


def _write(writer_holder: dict, path: Path, table) -> None:
    import pyarrow.csv as pacsv

    if "w" not in writer_holder:
        path.parent.mkdir(parents=True, exist_ok=True)
        # the bank's files carry no quotes; no generated value contains a comma
        options = pacsv.WriteOptions(quoting_style="none", quoting_header="none")
        writer_holder["w"] = pacsv.CSVWriter(str(path), table.schema, write_options=options)
    writer_holder["w"].write_table(table)


def _duplicate(table, rate: float, rng: np.random.Generator):
    """Append exact copies of ~rate of the rows (the bank's export re-sends some)."""
    import pyarrow as pa

    n_dup = int(round(table.num_rows * rate))
    if n_dup == 0:
        return table
    idx = rng.choice(table.num_rows, size=n_dup, replace=False)
    return pa.concat_tables([table, table.take(pa.array(np.sort(idx)))])


def _write_base(
    path: Path,
    n: int,
    end_m: np.datetime64,
    defects: DefectRates,
    rng: np.random.Generator,
):
    """Write ``customer_base`` for ``n`` new customers; their ids, incomes and income z-scores."""
    import pyarrow as pa

    ids = _uuid_hex(rng, n)
    surname = rng.integers(0, len(SURNAMES), n)
    given = rng.integers(0, len(GIVEN_NAMES), n)
    name_pool = _strings([s + g for s in SURNAMES for g in GIVEN_NAMES])
    names = name_pool.take(pa.array(surname * len(GIVEN_NAMES) + given))
    ages = rng.integers(25, 66, n)
    bad_age = rng.random(n) < defects.bad_ages
    ages = np.where(bad_age, np.array(BAD_AGES)[rng.integers(0, len(BAD_AGES), n)], ages)
    occupations = list(rules.OCCUPATION)
    occ_idx = rng.integers(0, len(occupations), n)
    occ_types = _strings([rules.OCCUPATION[o][1] for o in occupations])
    income_z = rng.standard_normal(n)
    income = np.clip(np.exp(np.log(28_000) + 0.6 * income_z), 8_000, 100_000).round(2)
    end_day = (end_m + 1).astype("datetime64[D]") - 1
    span_days = int((end_day - (end_m - 120).astype("datetime64[D]")).astype(int))
    open_days = end_day - rng.integers(0, span_days, n).astype("timedelta64[D]")
    tenure_years = (end_day - open_days).astype(int) / 365.25
    stage = np.clip((tenure_years / 2).astype(int) + rng.integers(-1, 2, n), 0, 4)
    stage = np.where(tenure_years < 1, 0, stage)
    open_str = pa.array(open_days).cast(pa.string())
    open_str = _with_defects(open_str, rng.random(n) < defects.bad_dates, BAD_DATES, rng)
    base = pa.table(
        {
            "customer_id": ids,
            "name": names,
            "age": pa.array(ages, pa.int64()),
            "gender": _strings(list(rules.GENDER)).take(pa.array(rng.integers(0, 2, n))),
            "occupation": _strings(occupations).take(pa.array(occ_idx)),
            "occupation_type": occ_types.take(pa.array(occ_idx)),
            "monthly_income": pa.array(income),
            "open_account_date": open_str,
            "lifecycle_stage": _strings(list(rules.LIFECYCLE)).take(pa.array(stage)),
            "marriage_status": _strings(list(rules.MARRIAGE)).take(
                pa.array((rng.random(n) > 0.6).astype(np.int64))
            ),
            "city_level": _strings(list(rules.CITY_LEVEL)).take(
                pa.array((rng.random(n) > 0.55).astype(np.int64))
            ),
            "branch_name": _strings(BRANCHES).take(pa.array(rng.integers(0, len(BRANCHES), n))),
        }
    )
    holder: dict = {}
    _write(holder, path, _duplicate(base, defects.duplicates, rng))
    holder.pop("w").close()
    return ids, income, income_z


def _existing_customers(base_file: Path) -> tuple[object, np.ndarray]:
    """Distinct ids (file order) and monthly incomes of an existing customer file.

    An income that is missing or not a positive number counts as the file's median.
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    columns = ["customer_id", "monthly_income"]
    table = pacsv.read_csv(
        base_file,
        convert_options=pacsv.ConvertOptions(
            include_columns=columns, column_types={c: pa.string() for c in columns}
        ),
    ).combine_chunks()
    if table.num_rows == 0:
        raise ValueError(f"{base_file} holds no customer")
    ids = table["customer_id"]
    first = pc.index_in(ids, value_set=pc.unique(ids)).to_numpy(zero_copy_only=False)
    keep = np.sort(np.unique(first, return_index=True)[1])
    rows = pa.array(keep)
    text = pc.utf8_trim_whitespace(table["monthly_income"].take(rows))
    number = pc.if_else(pc.match_substring_regex(text, r"^-?\d+(\.\d+)?$"), text, None)
    income = pc.cast(number, pa.float64()).to_numpy(zero_copy_only=False)
    income = np.asarray(income, dtype="float64")
    valid = np.isfinite(income) & (income > 0)
    median = float(np.median(income[valid])) if valid.any() else 28_000.0
    return ids.take(rows), np.where(valid, income, median)


def generate(
    out_dir: str | Path,
    customers: int = 10_000,
    months: int = 12,
    seed: int = 0,
    delivery_date: dt.date | None = None,
    end_month: str | None = None,
    defects: DefectRates | None = None,
    chunk_rows: int = 500_000,
    base_file: str | Path | None = None,
) -> dict[str, Path]:
    """Write one delivery of both files and return their paths.

    ``end_month`` (``YYYY-MM``) is the newest ``stat_month``; by default the month
    before ``delivery_date`` (default: today, UTC), so cool periods and freshness
    are meaningful on the day the files are generated.
    """
    import pyarrow as pa

    defects = defects or DefectRates()
    delivery_date = delivery_date or dt.datetime.now(dt.UTC).date()
    if end_month is None:
        end_m = np.datetime64(delivery_date.strftime("%Y-%m"), "M") - 1
    else:
        end_m = np.datetime64(end_month, "M")
    end_idx = int(end_m.astype(np.int64))
    first_idx = end_idx - months + 1
    rng = np.random.default_rng(seed)
    paths = delivery_paths(out_dir, delivery_date)
    holder: dict = {}
    if base_file is not None:
        if months < 1:
            raise ValueError("months must be positive")
        ids, income = _existing_customers(Path(base_file))
        paths[BASE_PREFIX] = Path(base_file)
        paths[BEHAVIOR_PREFIX].parent.mkdir(parents=True, exist_ok=True)
        n = len(ids)
        income_z = (np.log(income) - np.log(28_000)) / 0.6
    else:
        if customers < 1 or months < 1:
            raise ValueError("customers and months must be positive")
        for p in paths.values():
            p.parent.mkdir(parents=True, exist_ok=True)
        n = customers
        ids, income, income_z = _write_base(paths[BASE_PREFIX], n, end_m, defects, rng)

    # -- per-customer behaviour state --------------------------------------------
    base_log_assets = np.clip(
        np.log(280_000) + 0.35 * income_z + 0.95 * rng.standard_normal(n),
        np.log(7_900),
        np.log(7_700_000),
    )
    asset_trend = rng.normal(0.0, 0.012, n)
    holds = np.column_stack(
        [
            rng.random(n) < 0.95,
            rng.random(n) < 0.50,
            rng.random(n) < 0.40,
            rng.random(n) < 0.35,
        ]
    )
    holds[~holds.any(axis=1), 0] = True
    share_w = rng.gamma(1.5, 1.0, (n, 4)) * holds
    spend_base = np.log(income * 0.25) + rng.normal(0, 0.5, n)
    invest_rate = rng.gamma(1.2, 1.3, n) * (holds[:, 1] | holds[:, 2])
    login_rate = rng.gamma(2.0, 6.0, n)
    level_labels = _strings([label for label, _ in rules.ASSET_LEVEL_BOUNDS])
    level_bounds = np.array([b for _, b in rules.ASSET_LEVEL_BOUNDS][1:])
    contact_pool = _strings(CONTACT_LABELS)
    walk = np.zeros(n)
    # its own stream, so adding this defect left every other value of a seed unchanged
    unit_rng = np.random.default_rng([seed, 1])

    beh = {}
    for m_idx in range(first_idx, end_idx + 1):
        month = _month_start(m_idx)
        m_start = month.astype("datetime64[D]")
        m_days = int(((month + 1).astype("datetime64[D]") - m_start).astype(int))
        walk += rng.normal(0, 0.03, n)
        log_assets = base_log_assets + walk + asset_trend * (m_idx - first_idx)
        total = np.exp(log_assets)
        noise = share_w * rng.uniform(0.9, 1.1, (n, 4))
        parts = (total[:, None] * noise / noise.sum(axis=1, keepdims=True)).round(2)
        total = parts.sum(axis=1).round(2)
        level = np.searchsorted(level_bounds, total, side="right")
        unit = unit_rng.random(n) < defects.unit_errors
        parts[unit] *= UNIT_ERROR_FACTOR  # asset_level keeps the true amount's level
        total = np.where(unit, (total * UNIT_ERROR_FACTOR).round(2), total)
        neg = rng.random(n) < defects.negative_balances
        parts[neg, 0] = -np.abs(parts[neg, 0]) - 1.0
        flags = holds.astype(np.int64)
        logins = rng.poisson(login_rate)
        spend = np.exp(spend_base + rng.normal(0, 0.35, n)).round(2)
        invest = rng.poisson(invest_rate)
        login_secs = rng.integers(0, m_days * 86_400, n)
        login_ts = m_start.astype("datetime64[s]") + login_secs.astype("timedelta64[s]")
        stale = logins == 0
        login_ts = np.where(
            stale,
            m_start.astype("datetime64[s]")
            - rng.integers(86_400, 120 * 86_400, n).astype("timedelta64[s]"),
            login_ts,
        )
        no_contact = rng.random(n) < defects.missing_contact
        month_end_s = (month + 1).astype("datetime64[s]")
        contact_ts = month_end_s - rng.integers(3_600, 90 * 86_400, n).astype("timedelta64[s]")
        result_idx = rng.choice(4, size=n, p=CONTACT_P)
        cool = contact_ts.astype("datetime64[D]") + COOL_DAYS[result_idx].astype("timedelta64[D]")
        cool = np.where(
            no_contact, m_start - rng.integers(1, 365, n).astype("timedelta64[D]"), cool
        )
        login_str = pa.array(login_ts).cast(pa.string())
        login_str = _with_defects(login_str, rng.random(n) < defects.bad_dates, BAD_DATETIMES, rng)
        beh = {
            "id": _uuid_hex(rng, n),
            "customer_id": ids,
            "total_assets": pa.array(total),
            "deposit_balance": pa.array(parts[:, 0]),
            "financial_balance": pa.array(parts[:, 1]),
            "fund_balance": pa.array(parts[:, 2]),
            "insurance_balance": pa.array(parts[:, 3]),
            "asset_level": level_labels.take(pa.array(level)),
            "deposit_flag": pa.array(flags[:, 0]),
            "financial_flag": pa.array(flags[:, 1]),
            "fund_flag": pa.array(flags[:, 2]),
            "insurance_flag": pa.array(flags[:, 3]),
            "product_count": pa.array(flags.sum(axis=1)),
            "financial_repurchase_count": pa.array(rng.poisson(0.6, n) * flags[:, 1]),
            "credit_card_monthly_expense": pa.array(spend),
            "investment_monthly_count": pa.array(invest),
            "app_login_count": pa.array(logins),
            "app_financial_view_time": pa.array(rng.poisson(logins * 3.0 + 0.5)),
            "app_product_compare_count": pa.array(rng.poisson(logins * 0.2)),
            "last_app_login_time": login_str,
            "last_contact_time": pa.array(contact_ts, mask=no_contact).cast(pa.string()),
            "contact_result": contact_pool.take(pa.array(result_idx, mask=no_contact)),
            "marketing_cool_period": pa.array(cool).cast(pa.string()),
            "stat_month": pa.array(np.full(n, str(month)), pa.string()),
        }
        table = _duplicate(pa.table(beh), defects.duplicates, rng)
        for start in range(0, table.num_rows, chunk_rows):
            _write(holder, paths[BEHAVIOR_PREFIX], table.slice(start, chunk_rows))
        del table, beh
    holder.pop("w").close()
    return paths
