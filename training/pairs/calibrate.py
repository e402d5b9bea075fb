"""Thresholds for the pair model's confirms and contradicts verdicts, chosen on the inner
validation split (never on held-out stories).

Rule, per relation: the lowest probability threshold t on a grid 0.30–0.98 at which the
precision of "p(relation) ≥ t" on validation pairs is at least 0.80 (with at least 10
alerts); if no t reaches 0.80, the t with the highest precision among those keeping a
recall of at least 0.30. The precision/recall at the chosen t are stored, so that the
confidence can be told in plain words.
"""

from __future__ import annotations

import numpy as np

GRID = [round(x, 2) for x in np.arange(0.30, 0.99, 0.02)]
TARGET_PRECISION = 0.80


def pr_at(probs: np.ndarray, labels: np.ndarray, cls: int, t: float) -> tuple[float, float, int]:
    other = 1 - cls  # confirms (0) vs contradicts (1): the stronger of the two decides
    hit = (probs[:, cls] >= t) & (probs[:, cls] >= probs[:, other])
    tp = int((hit & (labels == cls)).sum())
    n = int(hit.sum())
    return tp / max(1, n), tp / max(1, int((labels == cls).sum())), n


def choose(probs: np.ndarray, labels: np.ndarray, cls: int) -> tuple[float, dict]:
    table = [(t, *pr_at(probs, labels, cls, t)) for t in GRID]
    ok = [row for row in table if row[1] >= TARGET_PRECISION and row[3] >= 10]
    if ok:
        t, p, r, n = ok[0]
        rule = f"lowest threshold with validation precision >= {TARGET_PRECISION}"
    else:
        cand = [row for row in table if row[2] >= 0.30] or table
        t, p, r, n = max(cand, key=lambda row: (row[1], -row[0]))
        rule = "highest validation precision with recall >= 0.30 (0.80 not reached)"
    return t, {"precision": round(p, 3), "recall": round(r, 3), "alerts": n, "rule": rule}


def choose_thresholds(probs: np.ndarray, labels: np.ndarray) -> tuple[dict, dict]:
    tc, cc = choose(probs, labels, 0)
    tx, cx = choose(probs, labels, 1)
    return (
        {"confirms": tc, "contradicts": tx},
        {"confirms": cc, "contradicts": cx, "validation_pairs": int(len(labels))},
    )
