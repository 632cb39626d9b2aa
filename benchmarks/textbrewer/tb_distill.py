"""P1 (issue 4), the TextBrewer 0.2.1 side: distil the MiniLM-L6 SST-2 teacher into the
3-layer student with TextBrewer, used as its documentation shows (GeneralDistiller,
TrainingConfig + DistillationConfig, adaptors, intermediate_matches, batches padded to
the max length, `with distiller: distiller.train(...)`), and time every optimisation step.

Run it with the TextBrewer venv's python (benchmarks/p1_speed.py and p1_epoch.sh do):

    .venv-textbrewer/bin/python benchmarks/textbrewer/tb_distill.py \
        --teacher runs/teachers/sst2-s42 --student runs/p1/student-top3 --data-dir ../shared/data \
        --loss kd --epochs 1 --json OUT.json [--indices runs/p1/speed/subset.json] \
        [--save-dir DIR] [--eval] [--logits-cache]

The TextBrewer venv (its own; torch first so pip takes the local CPU wheel):

    python3 -m venv .venv-textbrewer
    .venv-textbrewer/bin/pip install torch==2.13.0
    .venv-textbrewer/bin/pip install transformers==5.23.0
    .venv-textbrewer/bin/pip install textbrewer==0.2.1     # deps: numpy, tensorboard, tqdm

Settings matched with lamina (`--loss kd=0.5,ce=0.5 --temperature 2 --lr 1e-4
--batch-size 32 --max-length 64`): AdamW (weight decay 0.01, none on biases and
LayerNorm, as HF Trainer), linear schedule with 10% warm-up, gradient clipping at 1.0
(HF Trainer's default), T = 2. TextBrewer's 'ce' KD loss is the soft cross-entropy
*without* the T² factor, lamina's `kd` is KL·T²: the gradients are equal when TextBrewer's
kd_loss_weight = 0.5·T² = 2.0, so that is what is used (hard_label_weight = 0.5 on the
student's own cross-entropy, which the adaptor returns as 'losses'). For hidden_mse, lamina
averages the three layer pairs (student hidden state j ↔ teacher 2j, i.e. 1:2, 2:4, 3:6),
TextBrewer sums its matches: each match gets weight 1/3.

Step timing: the LR scheduler is wrapped so that each `scheduler.step()` (called once
per optimisation step, after optimizer.step) records a timestamp; step time = interval
between consecutive timestamps (data loading, teacher forward, student forward+backward,
losses, clipping, optimizer, TensorBoard scalars: everything the distiller does per step).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

T_START = time.perf_counter()

import numpy as np  # noqa: E402
import textbrewer  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from textbrewer import BasicDistiller, DistillationConfig, GeneralDistiller, TrainingConfig  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402
from transformers import AutoModelForSequenceClassification, AutoTokenizer, get_linear_schedule_with_warmup  # noqa: E402


def read_sst2(path: Path) -> tuple[list[str], list[int]]:
    """GLUE SST-2 TSV as plain tab-split lines (GLUE text contains '"'), header skipped."""
    texts, labels = [], []
    with open(path, encoding="utf-8") as f:
        next(f)
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            text, label = line.split("\t")
            texts.append(text)
            labels.append(int(label))
    return texts, labels


class Encoded(Dataset):
    def __init__(self, enc: dict, labels: list[int]):
        self.enc = {k: torch.tensor(v, dtype=torch.long) for k, v in enc.items()}
        self.labels = torch.tensor(labels, dtype=torch.long)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return {**{k: v[i] for k, v in self.enc.items()}, "labels": self.labels[i]}


def encode(tokenizer, texts, labels, max_length):
    # as TextBrewer's examples (convert_examples_to_features): every example padded to max length
    enc = tokenizer(texts, truncation=True, max_length=max_length, padding="max_length")
    keep = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc]
    return Encoded({k: enc[k] for k in keep}, labels)


def adaptor_kd(batch, model_outputs):
    return {"logits": model_outputs.logits, "losses": model_outputs.loss}


def adaptor_hidden(batch, model_outputs):
    return {
        "logits": model_outputs.logits,
        "losses": model_outputs.loss,
        "hidden": model_outputs.hidden_states,
        "inputs_mask": batch["attention_mask"],
    }


class TimedScheduler:
    """Wraps an LR scheduler; each step() (once per optimisation step) stamps the clock."""

    def __init__(self, inner):
        self.inner = inner
        self.stamps: list[float] = []

    def step(self, *a, **k):
        self.inner.step(*a, **k)
        self.stamps.append(time.perf_counter())

    def __getattr__(self, name):
        return getattr(self.inner, name)


@torch.no_grad()
def accuracy(model, dataset, batch_size=64) -> float:
    model.eval()
    correct = 0
    for batch in DataLoader(dataset, batch_size=batch_size, shuffle=False):
        labels = batch.pop("labels")
        correct += int((model(**batch).logits.argmax(-1) == labels).sum())
    return correct / len(dataset)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--teacher", required=True)
    ap.add_argument("--student", required=True, help="HF folder of the 3-layer student (lamina prune ... --keep 3)")
    ap.add_argument("--data-dir", required=True, help="GLUE folder holding SST-2/ (or its parent holding glue/)")
    ap.add_argument("--loss", choices=["kd", "kd_hidden"], default="kd")
    ap.add_argument("--indices", help="JSON list of training-row indices to use (in this order)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--temperature", type=float, default=2.0)
    ap.add_argument("--warmup-ratio", type=float, default=0.1)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup-steps-excluded", type=int, default=5, help="first steps left out of the median")
    ap.add_argument(
        "--logits-cache",
        action="store_true",
        help="BasicDistiller with is_caching_logits=True (TextBrewer's in-memory logits cache; kd only)",
    )
    ap.add_argument("--eval", action="store_true", help="dev accuracy at the end")
    ap.add_argument("--save-dir", help="save the trained student here as an HF folder")
    ap.add_argument("--work-dir", default="runs/p1/tb-work", help="TextBrewer output_dir / log_dir")
    ap.add_argument("--json", required=True)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)

    data = Path(args.data_dir)
    sst = data / "SST-2" if (data / "SST-2").is_dir() else data / "glue" / "SST-2"
    tokenizer = AutoTokenizer.from_pretrained(args.teacher)
    texts, labels = read_sst2(sst / "train.tsv")
    if args.indices:
        rows = json.loads(Path(args.indices).read_text())
        texts, labels = [texts[i] for i in rows], [labels[i] for i in rows]
    train = encode(tokenizer, texts, labels, args.max_length)
    dev = encode(tokenizer, *read_sst2(sst / "dev.tsv"), args.max_length) if args.eval else None
    generator = torch.Generator().manual_seed(args.seed)
    loader = DataLoader(train, batch_size=args.batch_size, shuffle=True, generator=generator)

    teacher = AutoModelForSequenceClassification.from_pretrained(args.teacher)
    student = AutoModelForSequenceClassification.from_pretrained(args.student)
    t_loaded = time.perf_counter()

    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {
            "params": [p for n, p in student.named_parameters() if not any(nd in n for nd in no_decay)],
            "weight_decay": args.weight_decay,
        },
        {"params": [p for n, p in student.named_parameters() if any(nd in n for nd in no_decay)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=args.lr)
    total_steps = len(loader) * args.epochs
    timed = {}

    def scheduler_class(optimizer, **kw):
        timed["s"] = TimedScheduler(get_linear_schedule_with_warmup(optimizer, **kw))
        return timed["s"]

    scheduler_args = {"num_warmup_steps": int(args.warmup_ratio * total_steps), "num_training_steps": total_steps}

    work = Path(args.work_dir)
    train_config = TrainingConfig(device="cpu", output_dir=str(work / "out"), log_dir=str(work / "tb"))
    T = args.temperature
    common = dict(temperature=T, kd_loss_type="ce", kd_loss_weight=0.5 * T * T, hard_label_weight=0.5)
    model_kwargs = {}
    if args.loss == "kd_hidden":
        matches = [
            {"layer_T": 2 * j, "layer_S": j, "feature": "hidden", "loss": "hidden_mse", "weight": 1 / 3}
            for j in (1, 2, 3)
        ]
        distill_config = DistillationConfig(**common, intermediate_matches=matches)
        adaptor = adaptor_hidden
        model_kwargs["output_hidden_states"] = True  # passed to both models' forward by distiller.train(**args)
    else:
        distill_config = DistillationConfig(**common, is_caching_logits=args.logits_cache)
        adaptor = adaptor_kd
    if args.logits_cache:
        if args.loss != "kd":
            sys.exit("--logits-cache: TextBrewer caches logits only (BasicDistiller), use --loss kd")
        distiller = BasicDistiller(train_config, distill_config, teacher, student, adaptor, adaptor)
    else:
        distiller = GeneralDistiller(train_config, distill_config, teacher, student, adaptor, adaptor)

    cache_seconds = 0.0
    if args.logits_cache:
        original = distiller.cache_logits

        def cache_logits(*a, **k):
            nonlocal cache_seconds
            t = time.perf_counter()
            original(*a, **k)
            cache_seconds += time.perf_counter() - t

        distiller.cache_logits = cache_logits

    losses: list[float] = []
    forward_seconds: list[float] = []
    train_on_batch = distiller.train_on_batch

    def recording_train_on_batch(*a, **k):  # teacher forward (unless cached) + student forward + losses
        t = time.perf_counter()
        total, parts = train_on_batch(*a, **k)
        forward_seconds.append(time.perf_counter() - t)
        losses.append(float(total.detach()))
        return total, parts

    distiller.train_on_batch = recording_train_on_batch

    t_train = time.perf_counter()
    with distiller:
        distiller.train(
            optimizer,
            loader,
            num_epochs=args.epochs,
            scheduler_class=scheduler_class,
            scheduler_args=scheduler_args,
            max_grad_norm=1.0,
            **model_kwargs,
        )
    t_trained = time.perf_counter()

    stamps = timed["s"].stamps
    first_step_start = t_train + cache_seconds
    steps = [stamps[0] - first_step_start] + [b - a for a, b in zip(stamps, stamps[1:])]
    measured = steps[args.warmup_steps_excluded :]
    result = {
        "tool": "textbrewer-cache" if args.logits_cache else "textbrewer",
        "distiller": type(distiller).__name__,
        "loss": args.loss,
        "command": " ".join([sys.executable, *sys.argv]),
        "train_examples": len(train),
        "steps": len(steps),
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "padding": "max_length",
        "step_seconds": [round(s, 5) for s in steps],
        "median_step_seconds": statistics.median(measured) if measured else None,
        "warmup_steps_excluded": args.warmup_steps_excluded,
        "parts_seconds": {"train_on_batch": [round(x, 5) for x in forward_seconds]},
        "parts_median_seconds": {"train_on_batch": statistics.median(forward_seconds[args.warmup_steps_excluded :])}
        if len(forward_seconds) > args.warmup_steps_excluded
        else {},
        "train_loss_first": losses[0],
        "train_loss_last": losses[-1],
        "train_loss_mean": sum(losses) / len(losses),
        "cache_build_seconds": round(cache_seconds, 3) if args.logits_cache else None,
        "train_seconds": round(t_trained - t_train, 3),
        "load_seconds": round(t_loaded - T_START, 3),
        "threads": torch.get_num_threads(),
        "versions": {
            "textbrewer": textbrewer.__version__,
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "python": platform.python_version(),
        },
        "settings": {
            "lr": args.lr,
            "temperature": T,
            "kd_loss_type": "ce",
            "kd_loss_weight": 0.5 * T * T,
            "hard_label_weight": 0.5,
            "weight_decay": args.weight_decay,
            "warmup_ratio": args.warmup_ratio,
            "max_grad_norm": 1.0,
            "epochs": args.epochs,
            "seed": args.seed,
            "intermediate_matches": "hidden_mse 1:2, 2:4, 3:6, weight 1/3 each" if args.loss == "kd_hidden" else None,
        },
        "pid": os.getpid(),
    }
    if args.eval:
        t = time.perf_counter()
        result["dev_accuracy"] = accuracy(student, dev)
        result["eval_seconds"] = round(time.perf_counter() - t, 3)
    if args.save_dir:
        student.save_pretrained(args.save_dir)
        tokenizer.save_pretrained(args.save_dir)
    result["wall_seconds_in_process"] = round(time.perf_counter() - T_START, 3)
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "step_seconds"}, indent=2))


if __name__ == "__main__":
    main()
