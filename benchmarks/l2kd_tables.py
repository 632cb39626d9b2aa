"""Seed 001's two L2KD tables from a finished ``recipes/l2kd.yaml`` run (or any ``lamina lifelong`` outputs).

    python benchmarks/l2kd_tables.py runs/l2kd [--out benchmarks/results/l2kd]

Table 1 (the seed's results table): per method, the final score of each task after the whole
sequence and their average, mean ± std over the task orders run (accuracy ×100; BLEU as
sacrebleu gives it, 0–100). Table 2 ("are we copying the teacher?"): per method, the final
accuracy over the classification tasks, and on the examples the per-task teacher got right (A)
and wrong (B), with the teachers' own row; needs ``teacher_split: true`` (the recipe sets it).
Reads ``RUN_DIR/results/*.json`` (a recipe's gathered records), else every
``RUN_DIR/**/lamina_results.json`` of kind ``lifelong``.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path

METHODS = ("finetune", "lamol", "word-kd", "seq-kd-soft", "seq-kd")
NAMES = {"finetune": "Fine-tune", "lamol": "LAMOL", "word-kd": "+ Word-KD", "seq-kd-soft": "+ Seq-KD-soft",
         "seq-kd": "+ Seq-KD"}


def _records(run_dir: Path) -> list[dict]:
    paths = sorted((run_dir / "results").glob("*.json")) or sorted(run_dir.glob("**/lamina_results.json"))
    records = [json.loads(p.read_text()) for p in paths]
    return [r for r in records if r.get("kind") == "lifelong"]


def _scale(metric: str, value: float) -> float:
    return 100 * value if metric == "accuracy" else value


def _ms(values: list[float]) -> str:
    if not values:
        return "—"
    mean = statistics.mean(values)
    return f"{mean:.1f} ± {statistics.stdev(values):.1f}" if len(values) > 1 else f"{mean:.1f}"


def tables(records: list[dict]) -> str:
    tasks = sorted({t for r in records for t in r["matrix"]["tasks"]})
    by_method = defaultdict(list)
    for r in records:
        by_method[r["config"]["method"]].append(r)
    lines = ["Table 1: final score per task after the whole sequence, and the average (mean ± std over orders)", "",
             "| method | orders | " + " | ".join(tasks) + " | avg |", "|---|---:|" + "---:|" * (len(tasks) + 1)]
    for method in [m for m in METHODS if m in by_method]:
        runs = by_method[method]
        cells = []
        for t in tasks:
            cells.append(_ms([_scale(r["matrix"]["metric"][t], r["metrics"][t]) for r in runs if t in r["metrics"]]))
        avg = [statistics.mean(_scale(r["matrix"]["metric"][t], r["metrics"][t]) for t in r["matrix"]["tasks"])
               for r in runs]
        lines.append(f"| {NAMES[method]} | {len(runs)} | " + " | ".join(cells) + f" | {_ms(avg)} |")
    lines += ["", "Table 2: final accuracy over the classification tasks, on the examples the teacher got right (A) "
              "and wrong (B)", "", "| method | Acc | Acc in (A) | Acc in (B) |", "|---|---:|---:|---:|"]
    split_runs = [r for r in records if r.get("teacher_split")]
    if split_runs:
        teacher = [100 * statistics.mean(s["teacher_accuracy"] for s in r["teacher_split"].values()) for r in split_runs]
        lines.append(f"| Teacher | {_ms(teacher)} | 100.0 | 0.0 |")
    for method in [m for m in METHODS if m in by_method]:
        runs = [r for r in by_method[method] if r.get("teacher_split")]
        if not runs:
            continue

        def mean_of(key, runs=runs):
            values = [statistics.mean(v) for v in ([s[key] for s in r["teacher_split"].values() if s[key] is not None]
                                                   for r in runs) if v]
            return _ms([100 * v for v in values])

        lines.append(f"| {NAMES[method]} | {mean_of('accuracy')} | {mean_of('acc_teacher_correct')} | "
                     f"{mean_of('acc_teacher_wrong')} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("run_dir")
    ap.add_argument("--out", default=None, help="write tables.md here too")
    args = ap.parse_args()
    records = _records(Path(args.run_dir))
    if not records:
        raise SystemExit(f"no lamina lifelong records under {args.run_dir}")
    text = tables(records)
    print(text)
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "tables.md").write_text(text)


if __name__ == "__main__":
    main()
