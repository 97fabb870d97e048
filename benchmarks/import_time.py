"""Start-up cost: `import finance_platform.definitions` vs a bare `import dagster`.

    .venv/bin/python benchmarks/import_time.py --runs 7

Each import runs in a fresh interpreter (as every run and step does); the
median of several runs is compared. Goal: at most 2.5x.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

SNIPPET = "import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"


def time_import(module: str) -> float:
    out = subprocess.run(
        [sys.executable, "-c", SNIPPET.format(module=module)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    time_import("dagster")  # warm the OS file cache for both
    time_import("finance_platform.definitions")
    bare, ours = [], []
    started = time.perf_counter()
    for _ in range(args.runs):  # interleaved so machine load hits both alike
        bare.append(time_import("dagster"))
        ours.append(time_import("finance_platform.definitions"))
    b, o = statistics.median(bare), statistics.median(ours)
    print(
        f"import dagster                      median {b:.2f} s  (runs: "
        + ", ".join(f"{x:.2f}" for x in bare)
        + ")"
    )
    print(
        f"import finance_platform.definitions median {o:.2f} s  (runs: "
        + ", ".join(f"{x:.2f}" for x in ours)
        + ")"
    )
    print(
        f"ratio {o / b:.2f}x (goal <= 2.5x): {'MET' if o / b <= 2.5 else 'NOT MET'}  "
        f"[{args.runs} runs each, {time.perf_counter() - started:.0f} s]"
    )


if __name__ == "__main__":
    main()
