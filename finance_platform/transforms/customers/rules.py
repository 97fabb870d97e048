"""Every business rule of customer analytics as plain Python data, in one place.

The pandas transforms in this package and the Spark engine (issue 4) both read
these tables, so the two engines apply the same label maps, thresholds, segment
rules and product weights. Nothing here imports pandas or pyspark. What the
tables look like (lake folders, keys, columns in order) is ``contract.py``.

Conventions both engines follow:
- Conditions are ``(column, operator, value)`` triples with operators from
  ``OPERATORS``; a rule matches when all its conditions hold; the first
  matching rule in table order wins (``np.select`` / chained ``F.when``).
- Quantile bins: rank rows by ``(value, customer_id)`` ascending (ties broken
  by ``customer_id``), 0-based rank ``r`` over ``n`` rows, bin
  ``floor(r * k / n) + 1`` for ``k`` bins. Spark: ``row_number()`` over the
  same ordering minus one. No interpolation, so both engines agree exactly.
- Standard deviations are population (``ddof=0`` / ``stddev_pop``).
- Rankings break ties by ``customer_id`` ascending, products by ``PRODUCTS`` order.
"""

from __future__ import annotations

# -- raw columns by type (the columns themselves: ``contract.py``) ----------------
# Column types after parsing (numbers must parse or the row is quarantined).
BASE_INT_COLUMNS = ("age",)
BASE_FLOAT_COLUMNS = ("monthly_income",)
BASE_DATE_COLUMNS = ("open_account_date",)
BALANCE_COLUMNS = (
    "total_assets",
    "deposit_balance",
    "financial_balance",
    "fund_balance",
    "insurance_balance",
)
BEHAVIOR_FLOAT_COLUMNS = (*BALANCE_COLUMNS, "credit_card_monthly_expense")
# Monthly counts (integers); the features zero-fill them for customers without a snapshot.
COUNT_FEATURES: tuple[str, ...] = (
    "deposit_flag",
    "financial_flag",
    "fund_flag",
    "insurance_flag",
    "product_count",
    "financial_repurchase_count",
    "investment_monthly_count",
    "app_login_count",
)
BEHAVIOR_INT_COLUMNS = (*COUNT_FEATURES, "app_financial_view_time", "app_product_compare_count")
BEHAVIOR_DATETIME_COLUMNS = ("last_app_login_time",)
BEHAVIOR_NULLABLE_DATETIME_COLUMNS = ("last_contact_time",)
BEHAVIOR_DATE_COLUMNS = ("marketing_cool_period",)
# Zero for a customer without any snapshot, so scores never see a missing value.
ZERO_FILLED_FEATURES: tuple[str, ...] = (
    *BEHAVIOR_FLOAT_COLUMNS,
    *COUNT_FEATURES,
    "avg_logins_3m",
    "avg_investments_3m",
)
DATE_FORMAT = "%Y-%m-%d"
DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
MONTH_FORMAT = "%Y-%m"
# What the bank's exports also write (Excel, other core systems): each value is read with
# the first format that fits it; anything else is a bad date. (strftime, Spark pattern)
DATE_FORMATS: tuple[tuple[str, str], ...] = (
    (DATE_FORMAT, "yyyy-MM-dd"),
    ("%Y/%m/%d", "yyyy/MM/dd"),
    ("%Y%m%d", "yyyyMMdd"),
)
DATETIME_FORMATS: tuple[tuple[str, str], ...] = (
    (DATETIME_FORMAT, "yyyy-MM-dd HH:mm:ss"),
    ("%Y/%m/%d %H:%M:%S", "yyyy/MM/dd HH:mm:ss"),
    ("%Y%m%d %H:%M:%S", "yyyyMMdd HH:mm:ss"),
    ("%Y-%m-%dT%H:%M:%S", "yyyy-MM-dd'T'HH:mm:ss"),
)
MONTH_FORMATS: tuple[tuple[str, str], ...] = (
    (MONTH_FORMAT, "yyyy-MM"),
    ("%Y/%m", "yyyy/MM"),
    ("%Y%m", "yyyyMM"),
)
# Columns whose values may be empty in a valid delivery (everything else is required).
NULLABLE_COLUMNS = ("last_contact_time", "contact_result")
# Never leaves raw/cleaned storage: not in logs, metadata, previews, features.
PII_COLUMNS = ("name",)

# -- label maps: Chinese label -> stable English code ---------------------------
UNKNOWN = "unknown"
GENDER = {"男": "male", "女": "female"}
MARRIAGE = {"已婚": "married", "未婚": "single"}
CITY_LEVEL = {"一线城市": "tier1", "二线城市": "tier2"}
LIFECYCLE = {
    "新客户": "new",
    "成长客户": "growth",
    "成熟客户": "mature",
    "价值客户": "value",
    "忠诚客户": "loyal",
}
OCCUPATION_TYPE = {
    "传统行业": "traditional_industry",
    "私营业主": "private_business_owner",
    "专业人士": "professional",
    "金融从业者": "finance_professional",
    "互联网从业者": "internet_worker",
    "事业单位": "public_institution",
    "企业高管": "executive",
}
# 35 job titles -> (English code, occupation type label)
OCCUPATION = {
    "律师": ("lawyer", "专业人士"),
    "医生": ("doctor", "专业人士"),
    "会计师": ("accountant", "专业人士"),
    "建筑师": ("architect", "专业人士"),
    "大学教授": ("professor", "专业人士"),
    "咨询顾问": ("consultant", "专业人士"),
    "教师": ("teacher", "事业单位"),
    "公务员": ("civil_servant", "事业单位"),
    "护士": ("nurse", "事业单位"),
    "科研人员": ("researcher", "事业单位"),
    "警察": ("police_officer", "事业单位"),
    "软件工程师": ("software_engineer", "互联网从业者"),
    "产品经理": ("product_manager", "互联网从业者"),
    "数据分析师": ("data_analyst", "互联网从业者"),
    "UI设计师": ("ui_designer", "互联网从业者"),
    "运营经理": ("operations_manager", "互联网从业者"),
    "算法工程师": ("algorithm_engineer", "互联网从业者"),
    "银行职员": ("bank_clerk", "金融从业者"),
    "投资经理": ("investment_manager", "金融从业者"),
    "证券分析师": ("securities_analyst", "金融从业者"),
    "保险经纪人": ("insurance_broker", "金融从业者"),
    "基金经理": ("fund_manager", "金融从业者"),
    "企业CEO": ("ceo", "企业高管"),
    "财务总监": ("cfo", "企业高管"),
    "销售总监": ("sales_director", "企业高管"),
    "技术总监": ("cto", "企业高管"),
    "餐饮店老板": ("restaurant_owner", "私营业主"),
    "贸易公司老板": ("trading_company_owner", "私营业主"),
    "个体工商户": ("self_employed", "私营业主"),
    "电商店主": ("online_shop_owner", "私营业主"),
    "工厂工人": ("factory_worker", "传统行业"),
    "司机": ("driver", "传统行业"),
    "销售员": ("salesperson", "传统行业"),
    "厨师": ("chef", "传统行业"),
    "建筑工人": ("construction_worker", "传统行业"),
}
ASSET_LEVEL = {
    "50万以下": "lt_500k",
    "50-80万": "500k_800k",
    "80-100万": "800k_1m",
    "100万+": "ge_1m",
}
# Lower bound (CNY, inclusive) of each asset level; raw asset_level must agree with total_assets.
ASSET_LEVEL_BOUNDS = (
    ("50万以下", 0.0),
    ("50-80万", 500_000.0),
    ("80-100万", 800_000.0),
    ("100万+", 1_000_000.0),
)
CONTACT_RESULT = {
    "成功": "success",
    "未接通": "not_reached",
    "考虑中": "considering",
    "拒绝": "refused",
}
# Missing contact_result (documented rule, no imputation): empty result and no contact
# time -> "no_contact" (the bank leaves it empty when nobody called); empty result with a
# contact time -> "unknown". Both set contact_result_missing = True.
NO_CONTACT = "no_contact"

# (raw column, code column, map) applied by cleaning; the raw label is kept beside the code.
BASE_LABELS = (
    ("gender", "gender_code", GENDER),
    ("occupation_type", "occupation_type_code", OCCUPATION_TYPE),
    ("lifecycle_stage", "lifecycle_code", LIFECYCLE),
    ("marriage_status", "marriage_code", MARRIAGE),
    ("city_level", "city_level_code", CITY_LEVEL),
)
BEHAVIOR_LABELS = (("asset_level", "asset_level_code", ASSET_LEVEL),)

# -- cleaning thresholds (defaults; CustomerSettings may override) -----------
AGE_MIN = 18
AGE_MAX = 100
OUTLIER_SIGMA = 3.0
# The user's rule "beyond 3 sigma: quarantine" is applied where an outlier is a data error,
# not a customer: a month whose log1p(amount) lies beyond OUTLIER_SIGMA standard deviations
# of the same customer's other months (their mean and population std, month left out) AND
# differs from their geometric mean by at least OUTLIER_MIN_FACTOR (x2 or /2), in a history of
# at least OUTLIER_MIN_OTHER_MONTHS other clean months. A unit error (fen for yuan, x100) is
# caught; a rich or small customer, or a steady rise, is not. Measured on the real customer
# file with generated behaviour: the 3-sigma part alone flags ~1.2% of clean months (their
# histories are smooth random walks), the factor alone none.
OUTLIER_MIN_FACTOR = 2.0
OUTLIER_MIN_OTHER_MONTHS = 2
BEHAVIOR_OUTLIER_COLUMNS = ("total_assets",)
# Cross-sectional extremes: beyond OUTLIER_SIGMA of all rows on log1p scale. These are the
# bank's richest and smallest customers: counted and flagged (WARN), never removed.
BASE_EXTREME_COLUMNS = ("monthly_income",)
BEHAVIOR_EXTREME_COLUMNS = ("total_assets",)


# Quarantine reasons (the first failing rule names the row's reason).
REASON_EMPTY_KEY = "empty_key"
REASON_BAD_NUMBER = "bad_number"
REASON_BAD_DATE = "bad_date"
REASON_AGE = "age_out_of_range"
REASON_NEGATIVE = "negative_balance"
REASON_OUTLIER = "outlier_own_history"
# A line whose field count is not the header's (e.g. the last line of a cut file)
REASON_MALFORMED = "malformed_row"

# -- current view (features) ------------------------------------------------------
# Where each customer's current view comes from, against the delivery's newest month:
VIEW_CURRENT = "current"  # their snapshot of the newest month, and no later one quarantined
VIEW_STALE = "stale"  # an older month: the newest is quarantined or missing
VIEW_MISSING = "missing"  # no usable snapshot at all
VIEW_STATUSES = (VIEW_CURRENT, VIEW_STALE, VIEW_MISSING)

# -- features -----------------------------------------------------------------
LIFECYCLE_BASE_SCORE = {"new": 20, "growth": 40, "mature": 60, "value": 75, "loyal": 85, UNKNOWN: 0}
# lifecycle_score = min(100, base + min(tenure_years, TENURE_CAP_YEARS) * TENURE_POINTS_PER_YEAR)
TENURE_POINTS_PER_YEAR = 1.5
TENURE_CAP_YEARS = 10
ASSET_TIER_BINS = 5  # quantile bins of log1p(total_assets): 1 (lowest) .. 5 (highest)

# engagement_score = 100 * (R*w_r + F*w_f + M*w_m), each part in 0..1
RECENCY_WINDOW_DAYS = 90  # R = max(0, 1 - days since last login / window)
FREQUENCY_MONTHS = 3  # F averages the customer's last 3 months
LOGIN_CAP = 30.0  # F_login = min(1, avg logins / cap)
INVESTMENT_CAP = 6.0  # F_invest = min(1, avg investments / cap)
SPEND_CAP = 50_000.0  # M_spend = min(1, log1p(spend) / log1p(cap))
ASSET_CAP = 5_000_000.0  # M_assets = min(1, log1p(assets) / log1p(cap))
ENGAGEMENT_WEIGHTS = {"recency": 0.35, "frequency": 0.40, "monetary": 0.25}
CROSS_SELL_WEIGHTS = {
    "deposit_flag": 0.15,
    "financial_flag": 0.30,
    "fund_flag": 0.30,
    "insurance_flag": 0.25,
}
TREND_WINDOWS = (3, 6)
TREND_METRICS = ("total_assets", "credit_card_monthly_expense", "app_login_count")

# -- segmentation: assets x card spend x engagement (lifecycle for new customers)
HIGH_NET_WORTH = 1_000_000.0
MID_TIER = 500_000.0
ACTIVE_ENGAGEMENT = 50.0  # engagement_score >= this = active
HEAVY_INVESTING = 3  # investment_monthly_count >= this
HEAVY_SPEND = 15_000.0  # credit_card_monthly_expense >= this
SEGMENT_FLAGS = (
    # (flag column, source column, operator, threshold) computed before the rules
    ("is_high_net_worth", "total_assets", ">=", HIGH_NET_WORTH),
    ("is_mid_tier", "total_assets", ">=", MID_TIER),
    ("is_active", "engagement_score", ">=", ACTIVE_ENGAGEMENT),
    ("is_heavy_investor", "investment_monthly_count", ">=", HEAVY_INVESTING),
    ("is_heavy_spender", "credit_card_monthly_expense", ">=", HEAVY_SPEND),
    ("is_new", "lifecycle_code", "==", "new"),
)
# Ordered: first match wins; the last rule has no conditions so every customer lands somewhere.
SEGMENT_RULES: tuple[dict, ...] = (
    {
        "id": "S001",
        "en": "High-net-worth active investor",
        "zh": "高净值活跃投资客户",
        "when": (
            ("is_high_net_worth", "==", True),
            ("is_active", "==", True),
            ("is_heavy_investor", "==", True),
        ),
        "characteristics": "assets >= 1M, active, invests heavily",
    },
    {
        "id": "S002",
        "en": "High-net-worth dormant",
        "zh": "高净值沉睡客户",
        "when": (("is_high_net_worth", "==", True), ("is_active", "==", False)),
        "characteristics": "assets >= 1M, inactive: reactivation",
    },
    {
        "id": "S004",
        "en": "New customer in nurture",
        "zh": "新客户培育",
        "when": (("is_new", "==", True), ("is_high_net_worth", "==", False)),
        "characteristics": "lifecycle new, below 1M: onboarding and nurture",
    },
    {
        "id": "S003",
        "en": "Mid-tier active",
        "zh": "中端活跃客户",
        "when": (
            ("is_mid_tier", "==", True),
            ("is_high_net_worth", "==", False),
            ("is_active", "==", True),
        ),
        "characteristics": "assets 500k-1M, active",
    },
    {
        "id": "S005",
        "en": "High-net-worth active, light investing",
        "zh": "高净值稳健客户",
        "when": (("is_high_net_worth", "==", True),),
        "characteristics": "assets >= 1M, active, few investments: advisory",
    },
    {
        "id": "S006",
        "en": "Mid-tier dormant",
        "zh": "中端沉睡客户",
        "when": (("is_mid_tier", "==", True), ("is_high_net_worth", "==", False)),
        "characteristics": "assets 500k-1M, inactive",
    },
    {
        "id": "S007",
        "en": "Mass active heavy card spender",
        "zh": "大众活跃消费客户",
        "when": (("is_active", "==", True), ("is_heavy_spender", "==", True)),
        "characteristics": "assets < 500k, active, card spend >= 15k/month",
    },
    {
        "id": "S008",
        "en": "Mass active investor",
        "zh": "大众活跃投资客户",
        "when": (("is_active", "==", True), ("is_heavy_investor", "==", True)),
        "characteristics": "assets < 500k, active, invests heavily",
    },
    {
        "id": "S009",
        "en": "Mass active saver",
        "zh": "大众活跃储蓄客户",
        "when": (("is_active", "==", True),),
        "characteristics": "assets < 500k, active, light spend and investing",
    },
    {
        "id": "S010",
        "en": "Mass card-centric, low engagement",
        "zh": "大众信用卡消费客户",
        "when": (("is_heavy_spender", "==", True),),
        "characteristics": "assets < 500k, inactive in app, card spend >= 15k/month",
    },
    {
        "id": "S011",
        "en": "Mass dormant",
        "zh": "大众沉睡客户",
        "when": (),
        "characteristics": "assets < 500k, inactive, light spend",
    },
)
OPERATORS = ("==", "!=", ">=", ">", "<=", "<")

# -- product recommendations ----------------------------------------------------
PRODUCTS = ("wealth_management", "fund", "insurance", "credit_card_upgrade")
PRODUCT_NAMES_ZH = {
    "wealth_management": "理财产品",
    "fund": "基金",
    "insurance": "保险",
    "credit_card_upgrade": "信用卡升级",
}
# Normalised signals (0..1) used by the scores: (name, source column, kind, parameter)
# kinds: "cap" = min(1, max(0, x / p)); "flag" = x (0/1); "not_flag" = 1 - x;
# "ge" = 1 if x >= p else 0; "eq" = 1 if x == p else 0; "score" = x / 100.
PRODUCT_SIGNALS = (
    ("deposit_level", "deposit_balance", "cap", 500_000.0),
    ("high_income", "monthly_income", "cap", 60_000.0),
    ("mid_high_income", "monthly_income", "ge", 20_000.0),
    ("married", "marriage_code", "eq", "married"),
    ("risk_appetite", "risk_asset_share", "cap", 0.6),
    ("activity", "engagement_score", "score", None),
    ("investing", "investment_monthly_count", "cap", 6.0),
    ("spend", "credit_card_monthly_expense", "cap", 30_000.0),
    ("no_financial", "financial_flag", "not_flag", None),
    ("no_fund", "fund_flag", "not_flag", None),
    ("no_insurance", "insurance_flag", "not_flag", None),
)
# score = 100 * sum(weight * signal); weights per product sum to 1.
PRODUCT_WEIGHTS = {
    "wealth_management": {"deposit_level": 0.5, "high_income": 0.3, "no_financial": 0.2},
    "fund": {"risk_appetite": 0.4, "activity": 0.35, "investing": 0.15, "no_fund": 0.1},
    "insurance": {"married": 0.45, "mid_high_income": 0.35, "no_insurance": 0.2},
    "credit_card_upgrade": {"spend": 0.7, "activity": 0.3},
}
# purchase_probability = 1 / (1 + exp(-(SLOPE * (score/100 - 0.5) + offset[contact_result_code])))
PROBABILITY_SLOPE = 6.0
CONTACT_OFFSET = {
    "success": 0.5,
    "considering": 0.3,
    "not_reached": -0.2,
    "refused": -1.5,
    NO_CONTACT: 0.0,
    UNKNOWN: 0.0,
}
# expected_value (CNY, yearly revenue if bought) = rate * source column
EXPECTED_VALUE = {
    "wealth_management": ("deposit_balance", 0.008),
    "fund": ("total_assets", 0.004),
    "insurance": ("monthly_income", 0.05),
    "credit_card_upgrade": ("credit_card_monthly_expense", 0.15),
}
PRODUCT_REASONS = {
    "wealth_management": "large deposits and high income",
    "fund": "risk appetite and investing activity",
    "insurance": "married with mid/high income",
    "credit_card_upgrade": "high card spend",
}
# A customer is targeted with their best product when it clears both bars.
MIN_TARGET_SCORE = 40.0
MIN_TARGET_PROBABILITY = 0.3
