"""Generate a large synthetic lesion table for scoring benchmarks (deterministic)."""

from __future__ import annotations

import argparse
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

ORGANS = ["liver", "lung", "adrenal", "bone", "kidney", "spleen"]


def make_table(n_subjects: int, n_assessments: int = 8, seed: int = 7) -> pd.DataFrame:
    """About 4 lesions per subject and assessment: 3 targets (one nodal in a third of subjects), one
    non-target; occasional new lesions. Sizes follow a random walk so every response category occurs."""
    rng = np.random.default_rng(seed)
    rows: dict[str, list[object]] = {c: [] for c in ["subject_id", "timepoint", "date", "lesion_id", "role",
                                                     "organ", "nodal", "long_axis_mm", "short_axis_mm", "status"]}
    start = date(2024, 1, 1)

    def add(*values: object) -> None:
        for key, v in zip(rows, values, strict=True):
            rows[key].append(v)

    for s in range(n_subjects):
        sid = f"S{s:06d}"
        n_t = 3
        base = rng.uniform(12, 55, n_t).round(1)
        trend = rng.normal(0, 0.12)
        nodal_first = s % 3 == 0
        new_at = int(rng.integers(2, n_assessments + 4))
        for k in range(n_assessments):
            d = (start + timedelta(days=56 * k + int(rng.integers(0, 5)))).isoformat()
            tp = "baseline" if k == 0 else f"week {8 * k}"
            factor = max(0.0, 1 + trend * k + rng.normal(0, 0.05))
            for t in range(n_t):
                v = round(float(base[t]) * factor, 1)
                if t == 0 and nodal_first:
                    add(sid, tp, d, "T1", "target" if k == 0 else "", "lymph node", "true", "", v + 5, "")
                else:
                    add(sid, tp, d, f"T{t + 1}", "target" if k == 0 else "", ORGANS[t] if k == 0 else "", "", v,
                        "", "")
            add(sid, tp, d, "NT1", "non-target" if k == 0 else "", "bone" if k == 0 else "", "", "", "",
                "present")
            if k >= new_at:
                add(sid, tp, d, "N1", "new" if k == new_at else "", "lung" if k == new_at else "", "",
                    round(8 + 2 * (k - new_at), 1), "", "")
    return pd.DataFrame(rows)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subjects", type=int, default=20_000)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/trial.csv"))
    args = ap.parse_args()
    df = make_table(args.subjects)
    df.to_csv(args.out, index=False)
    print(f"{len(df)} rows -> {args.out}")


if __name__ == "__main__":
    main()
