"""Compare two runs' outputs: keys and labels exactly, numbers within 1e-9 relative.

    python compare.py OUT_A OUT_B
File order: if both runs wrote order.parquet, the ids sorted by each engine's _row must be
the same sequence, and every _row is replaced by its position in that order before comparing.
"""
import json, sys

import numpy as np
import pyarrow.dataset as ds

REL = 1e-9


def load(out: str, name: str):
    return ds.dataset(f"{out}/{name}.parquet", format="parquet").to_table().to_pandas()


def positions(out: str):
    order = load(out, "order").sort_values("_row", kind="stable").reset_index(drop=True)
    return order, dict(zip(order["_row"].to_numpy(), range(len(order))))


def main(a: str, b: str) -> None:
    report = {}
    (oa, pa_), (ob, pb) = positions(a), positions(b)
    report["order_rows"] = [len(oa), len(ob)]
    report["order_same_ids_in_file_order"] = bool(len(oa) == len(ob) and (oa["id"].to_numpy() == ob["id"].to_numpy()).all())
    specs = {
        "dedup_removed": (["customer_id", "stat_month", "pos"], ["id"], []),
        "outliers": (["customer_id", "stat_month"], ["pos"], ["deviation", "spread"]),
        "segments": (["customer_id"], ["segment_id", "asset_tier", "engagement_score"], ["engagement_raw"]),
    }
    for name, (keys, exact, numeric) in specs.items():
        x, y = load(a, name), load(b, name)
        for df, pos in ((x, pa_), (y, pb)):
            if "_row" in df:
                df["pos"] = df["_row"].map(pos)
        m = x.merge(y, on=keys, how="outer", suffixes=("_a", "_b"), indicator=True)
        r = {"rows": [len(x), len(y)], "only_a": int((m._merge == "left_only").sum()),
             "only_b": int((m._merge == "right_only").sum())}
        both = m[m._merge == "both"]
        for c in exact:
            r[f"{c}_mismatch"] = int((both[f"{c}_a"].astype(str) != both[f"{c}_b"].astype(str)).sum())
        for c in numeric:
            u, v = both[f"{c}_a"].to_numpy("float64"), both[f"{c}_b"].to_numpy("float64")
            rel = np.abs(u - v) / np.maximum(np.maximum(np.abs(u), np.abs(v)), 1e-300)
            rel = np.where((u == v) | (np.isnan(u) & np.isnan(v)), 0.0, rel)
            r[f"{c}_max_rel"] = float(np.nanmax(rel)) if len(rel) else 0.0
            r[f"{c}_beyond_1e-9"] = int((rel > REL).sum())
        report[name] = r
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
