"""A gradient-boosted tree ensemble evaluated with numpy alone.

Training uses LightGBM; its trees are flattened into a few arrays (saved as ``.npz``) so
that inference needs neither LightGBM nor pickle. All trees are walked at once, one
numpy step per tree level, which is fast for the tens to hundreds of rows the stance
engine scores per article.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class TreeEnsemble:
    """Numerical-split trees: binary (sigmoid) or multiclass (softmax) raw scores."""

    def __init__(
        self,
        feature: np.ndarray,
        threshold: np.ndarray,
        left: np.ndarray,
        right: np.ndarray,
        value: np.ndarray,
        default_left: np.ndarray,
        roots: np.ndarray,
        num_class: int,
        depth: int,
    ) -> None:
        self.feature = feature.astype(np.int32)  # -1 at leaves
        self.threshold = threshold.astype(np.float64)
        self.left = left.astype(np.int32)
        self.right = right.astype(np.int32)
        self.value = value.astype(np.float64)
        self.default_left = default_left.astype(bool)
        self.roots = roots.astype(np.int32)
        self.num_class = int(num_class)
        self.depth = int(depth)
        self._tree_class = np.arange(len(self.roots)) % max(self.num_class, 1)

    @classmethod
    def from_lightgbm_dump(cls, dump: dict[str, Any]) -> TreeEnsemble:
        """Flatten the dict of ``lightgbm.Booster.dump_model()``."""
        feature: list[int] = []
        threshold: list[float] = []
        left: list[int] = []
        right: list[int] = []
        value: list[float] = []
        default_left: list[bool] = []
        roots: list[int] = []
        max_depth = 0

        def add(node: dict[str, Any], depth: int) -> int:
            nonlocal max_depth
            i = len(feature)
            feature.append(-1)
            threshold.append(0.0)
            left.append(i)
            right.append(i)
            value.append(0.0)
            default_left.append(True)
            if "leaf_value" in node:
                value[i] = float(node["leaf_value"])
                max_depth = max(max_depth, depth)
                return i
            if node.get("decision_type", "<=") != "<=":
                raise ValueError("only numerical '<=' splits are supported")
            feature[i] = int(node["split_feature"])
            threshold[i] = float(node["threshold"])
            default_left[i] = bool(node.get("default_left", True))
            left[i] = add(node["left_child"], depth + 1)
            right[i] = add(node["right_child"], depth + 1)
            return i

        for tree in dump["tree_info"]:
            roots.append(add(tree["tree_structure"], 0))
        num_class = int(dump.get("num_class", 1))
        return cls(
            np.array(feature),
            np.array(threshold),
            np.array(left),
            np.array(right),
            np.array(value),
            np.array(default_left),
            np.array(roots),
            num_class,
            max_depth,
        )

    def raw(self, X: np.ndarray) -> np.ndarray:
        """Summed leaf values: (n,) for one class, (n, num_class) otherwise."""
        X = np.asarray(X, dtype=np.float64)
        n = X.shape[0]
        node = np.broadcast_to(self.roots, (n, len(self.roots))).copy()
        rows = np.arange(n)[:, None]
        for _ in range(self.depth):
            f = self.feature[node]
            inner = f >= 0
            if not inner.any():
                break
            x = X[rows, np.where(inner, f, 0)]
            go_left = np.where(np.isnan(x), self.default_left[node], x <= self.threshold[node])
            nxt = np.where(go_left, self.left[node], self.right[node])
            node = np.where(inner, nxt, node)
        leaf = self.value[node]
        if self.num_class <= 1:
            return leaf.sum(axis=1)
        out = np.zeros((n, self.num_class))
        for k in range(self.num_class):
            out[:, k] = leaf[:, self._tree_class == k].sum(axis=1)
        return out

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        r = self.raw(X)
        if self.num_class <= 1:
            return 1.0 / (1.0 + np.exp(-r))
        r = r - r.max(axis=1, keepdims=True)
        e = np.exp(r)
        return e / e.sum(axis=1, keepdims=True)

    def arrays(self, prefix: str) -> dict[str, np.ndarray]:
        return {
            f"{prefix}feature": self.feature.astype(np.int16),
            f"{prefix}threshold": self.threshold,
            f"{prefix}left": self.left,
            f"{prefix}right": self.right,
            f"{prefix}value": self.value,
            f"{prefix}default_left": self.default_left,
            f"{prefix}roots": self.roots,
            f"{prefix}meta": np.array([self.num_class, self.depth], dtype=np.int64),
        }

    @classmethod
    def from_arrays(cls, data: Any, prefix: str) -> TreeEnsemble:
        meta = data[f"{prefix}meta"]
        return cls(
            data[f"{prefix}feature"],
            data[f"{prefix}threshold"],
            data[f"{prefix}left"],
            data[f"{prefix}right"],
            data[f"{prefix}value"],
            data[f"{prefix}default_left"],
            data[f"{prefix}roots"],
            int(meta[0]),
            int(meta[1]),
        )
