"""Seed 001's two lottery-ticket tables from a finished ``recipes/lottery_bert.yaml`` run.

    python benchmarks/lottery_tables.py runs/lottery_bert [--out benchmarks/results/lottery_bert]

Table 1 (Chen et al.'s Table 2 shape), per task: the highest sparsity at which the IMP ticket
matches the full model (its mean over seeds at least the full model's mean minus one standard
deviation; the full model is IMP's round 0, dense fine-tuning from the pretrained weights),
then rows full model / IMP ticket / random pruning / random re-initialisation, mean ± std
over seeds, the baselines at the baseline sparsity nearest to the IMP one (stated).
Table 2 (Chen et al.'s transfer table shape): TRANSFER(S, T) − TRANSFER(T, T) for every
source S and target T at the recipe's transfer sparsity, plus the one-shot θ0 row.
Scores are each task's main metric ×100 (SST-2/RTE accuracy, MRPC F1, CoLA MCC).
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path


def _records(run_dir: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((run_dir / "results").glob("*.json"))]


def _main_metric(task: str) -> str:
    from lamina.tasks import get_task

    return get_task(task).main_metric


def _ms(values: list[float]) -> str:
    if not values:
        return "—"
    mean = 100 * statistics.mean(values)
    return f"{mean:.1f} ± {100 * statistics.stdev(values):.1f}" if len(values) > 1 else f"{mean:.1f}"


def _majority(task: str, data_dir: str | None) -> float | None:
    """The main metric of always predicting the most frequent training label, on dev."""
    import numpy as np

    from lamina.eval.metrics import compute_metrics
    from lamina.tasks import get_task

    t = get_task(task)
    try:
        data = t.load(data_dir)
    except Exception:  # data not at hand: the row says so
        return None
    labels = list(data["train"]["label"])
    top = max(set(labels), key=labels.count)
    dev = np.array(data["dev"]["label"])
    outputs = np.zeros((len(dev), len(t.labels)), dtype=np.float32)
    outputs[:, top] = 1.0
    return compute_metrics(t, outputs, dev)[t.main_metric]


def tables(run_dir: Path) -> str:
    recs = _records(run_dir)
    by_step = defaultdict(list)
    for r in recs:
        step = (r.get("recipe") or {}).get("step")
        if step:
            by_step[step].append(r)
    imp = defaultdict(lambda: defaultdict(list))  # task -> sparsity -> scores
    for r in by_step["imp"]:
        for rnd in r["lottery"]["rounds"]:
            imp[r["task"]][round(rnd["sparsity"], 2)].append(rnd["score"])
    tasks = list(imp)
    lines = [
        "## Table 1: the highest sparsity at which the IMP ticket matches the full model",
        "",
        "| | " + " | ".join(tasks) + " |",
        "|---|" + "---:|" * len(tasks),
    ]
    found, rows = {}, defaultdict(dict)
    for t in tasks:
        full = imp[t][0.0]
        floor = statistics.mean(full) - (statistics.stdev(full) if len(full) > 1 else 0.0)
        ok = [s for s, v in imp[t].items() if s > 0 and statistics.mean(v) >= floor]
        found[t] = max(ok) if ok else None
        data_dir = next((r["config"].get("data_dir") for r in by_step["imp"] if r["task"] == t), None)
        base = _majority(t, data_dir)
        rows["majority class"][t] = f"{100 * base:.1f}" if base is not None else "—"
        if base is not None and statistics.mean(full) <= base + 0.005:
            found[t] = None  # the full model learnt nothing: every ticket "matches" it, which says nothing
            rows["full model"][t] = _ms(full) + " (= majority class)"
            rows["IMP ticket"][t] = "n/a: the full model is at the majority class"
            continue
        rows["full model"][t] = _ms(full)
        rows["IMP ticket"][t] = _ms(imp[t][found[t]]) if found[t] is not None else "none matches"
    for step, var, label in (
        ("random-prune", "sparsity", "random pruning"),
        ("random-reinit", "round", "random reinit"),
    ):
        for t in tasks:
            runs = [r for r in by_step[step] if r["task"] == t]
            if not runs or found[t] is None:
                rows[label][t] = "—"
                continue
            level = lambda r, var=var: float(r["recipe"]["vars"][var]) / (10 if var == "round" else 1)  # noqa: E731
            near = min({level(r) for r in runs}, key=lambda s: abs(s - found[t]))
            scores = [r["metrics"][_main_metric(t)] for r in runs if level(r) == near]
            rows[label][t] = f"{_ms(scores)} (at {near:.0%})"
    lines.append("| sparsity | " + " | ".join(f"{found[t]:.0%}" if found[t] is not None else "—" for t in tasks) + " |")
    for label in ("majority class", "full model", "IMP ticket", "random pruning", "random reinit"):
        lines.append(f"| {label} | " + " | ".join(rows[label].get(t, "—") for t in tasks) + " |")
    lines += [
        "",
        "Sparsity: of the prunable matrices (IMP rounds at 10% steps). Random reinit at a 10% round "
        "means that IMP round's mask. Majority class: always predicting the most frequent training "
        "label (a full model at that score has learnt nothing, so no sparsity is reported for it).",
        "",
        "IMP ticket by sparsity (mean ± std over seeds):",
        "",
        "| sparsity | " + " | ".join(tasks) + " |",
        "|---|" + "---:|" * len(tasks),
    ]
    for level in sorted({s for t in tasks for s in imp[t]}):
        lines.append(
            f"| {level:.0%} | " + " | ".join(_ms(imp[t][level]) if level in imp[t] else "—" for t in tasks) + " |"
        )

    transfer = {
        (r["recipe"]["vars"]["task"], r["recipe"]["vars"]["target"]): r["metrics"][_main_metric(r["task"])]
        for r in by_step["transfer"]
    }
    if transfer:
        targets = sorted({t for _, t in transfer}, key=tasks.index if set(tasks) >= {t for _, t in transfer} else str)
        sources = sorted(
            {s for s, _ in transfer}, key=targets.index if set(targets) >= {s for s, _ in transfer} else str
        )
        lines += [
            "",
            "## Table 2: transfer, TRANSFER(S, T) − TRANSFER(T, T) (×100)",
            "",
            "| source \\ target | " + " | ".join(targets) + " |",
            "|---|" + "---:|" * len(targets),
        ]
        for s in sources:
            cells = []
            for t in targets:
                if (s, t) not in transfer or (t, t) not in transfer:
                    cells.append("—")
                elif s == t:
                    cells.append(f"({100 * transfer[(t, t)]:.1f})")
                else:
                    cells.append(f"{100 * (transfer[(s, t)] - transfer[(t, t)]):+.1f}")
            lines.append(f"| {s} | " + " | ".join(cells) + " |")
        one = {r["task"]: r["metrics"][_main_metric(r["task"])] for r in by_step["oneshot"]}
        lines.append(
            "| one-shot θ0 | "
            + " | ".join(
                f"{100 * (one[t] - transfer[(t, t)]):+.1f}" if t in one and (t, t) in transfer else "—" for t in targets
            )
            + " |"
        )
        lines += ["", "Diagonal: TRANSFER(T, T) itself, in parentheses."]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_dir")
    ap.add_argument("--out", default=None, help="also write OUT.md")
    args = ap.parse_args()
    text = tables(Path(args.run_dir))
    print(text)
    if args.out:
        Path(args.out).with_suffix(".md").write_text(text)


if __name__ == "__main__":
    main()
