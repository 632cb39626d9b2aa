"""Seed 001's two L2KD tables from a finished ``recipes/l2kd.yaml`` run (or any ``lamina lifelong`` outputs).

    python benchmarks/l2kd_tables.py runs/l2kd [--out benchmarks/results/l2kd]

Table 1 (the seed's results table): per method, the final score of each task after the whole
sequence and their average, mean ± std over the task orders run (accuracy ×100; BLEU as
sacrebleu gives it, 0–100). Table 2 ("are we copying the teacher?"): per method, the final
accuracy over the classification tasks, and on the examples the per-task teacher got right (A)
and wrong (B), with the teachers' own row; the mean over the classification tasks and each task
alone (a teacher near chance makes its task's split say little); needs ``teacher_split: true``
(the recipe sets it). Table 3: forgetting, the best score a task reached minus its final score.
Then every run's matrix (row: the task just trained; column: the task scored), so forgetting is
visible stage by stage.
Reads ``RUN_DIR/results/*.json`` (a recipe's gathered records), else every
``RUN_DIR/**/lamina_results.json`` of kind ``lifelong``.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from pathlib import Path

from lamina.lifelong_learning.methods import LIFELONG_METHODS

METHODS = tuple(LIFELONG_METHODS)  # the tables' row order
NAMES = {name: m.title for name, m in LIFELONG_METHODS.items()}


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


def _by_method(records: list[dict]) -> list[tuple[str, list[dict]]]:
    grouped = defaultdict(list)
    for r in records:
        grouped[r["config"]["method"]].append(r)
    return [(m, grouped[m]) for m in METHODS if m in grouped]


def _score(r: dict, task: str) -> float:
    return _scale(r["matrix"]["metric"][task], r["metrics"][task])


def results_table(records: list[dict]) -> list[str]:
    tasks = sorted({t for r in records for t in r["matrix"]["tasks"]})
    lines = [
        "Table 1: final score per task after the whole sequence, and the average (mean ± std over orders)",
        "",
        "| method | orders | " + " | ".join(tasks) + " | avg |",
        "|---|---:|" + "---:|" * (len(tasks) + 1),
    ]
    for method, runs in _by_method(records):
        cells = [_ms([_score(r, t) for r in runs if t in r["metrics"]]) for t in tasks]
        avg = [statistics.mean(_score(r, t) for t in r["matrix"]["tasks"]) for r in runs]
        lines.append(f"| {NAMES[method]} | {len(runs)} | " + " | ".join(cells) + f" | {_ms(avg)} |")
    return lines


def teacher_table(records: list[dict]) -> list[str]:
    split_runs = [r for r in records if r.get("teacher_split")]
    if not split_runs:
        return ["Table 2: no run has a teacher split (run with teacher_split: true)"]
    tasks = sorted({t for r in split_runs for t in r["teacher_split"]})
    scopes = [("mean", tasks)] + ([(t, [t]) for t in tasks] if len(tasks) > 1 else [])
    head = " | ".join(f"{name}: Acc | (A) | (B)" for name, _ in scopes)
    lines = [
        "Table 2: final accuracy on the classification tasks, and on the examples the per-task teacher got "
        "right (A) and wrong (B) (mean ± std over orders; 'mean' averages the tasks' figures)",
        "",
        f"| method | {head} |",
        "|---|" + "---:|" * (3 * len(scopes)),
    ]

    def cell(runs, key, scope):
        values = []
        for r in runs:
            got = [r["teacher_split"][t][key] for t in scope if t in r["teacher_split"]]
            got = [v for v in got if v is not None]
            if got:
                values.append(100 * statistics.mean(got))
        return _ms(values)

    lines.append(
        "| Teacher | "
        + " | ".join(f"{cell(split_runs, 'teacher_accuracy', scope)} | 100.0 | 0.0" for _, scope in scopes)
        + " |"
    )
    for method, runs in _by_method(split_runs):
        cells = [
            " | ".join(cell(runs, key, scope) for key in ("accuracy", "acc_teacher_correct", "acc_teacher_wrong"))
            for _, scope in scopes
        ]
        lines.append(f"| {NAMES[method]} | " + " | ".join(cells) + " |")
    counts = {
        t: (r["teacher_split"][t]["teacher_correct"], r["teacher_split"][t]["teacher_wrong"])
        for r in split_runs
        for t in r["teacher_split"]
    }
    lines += ["", "Examples in (A) / (B): " + ", ".join(f"{t} {a} / {b}" for t, (a, b) in sorted(counts.items()))]
    return lines


def forgetting_table(records: list[dict]) -> list[str]:
    tasks = sorted({t for r in records for t in r["matrix"]["tasks"]})
    lines = [
        "Table 3: forgetting, the best score a task reached minus its final score (mean ± std over orders; "
        "0 for the task trained last; avg: over the tasks before the last)",
        "",
        "| method | " + " | ".join(tasks) + " | avg |",
        "|---|" + "---:|" * (len(tasks) + 1),
    ]
    for method, runs in _by_method(records):
        cells = [
            _ms([_scale(r["matrix"]["metric"][t], r["forgetting"][t]) for r in runs if t in r.get("forgetting", {})])
            for t in tasks
        ]
        avg = [
            statistics.mean(
                _scale(r["matrix"]["metric"][t], v)
                for t, v in r["forgetting"].items()
                if t != r["matrix"]["trained"][-1]
            )
            for r in runs
            if len(r.get("forgetting", {})) > 1
        ]
        lines.append(f"| {NAMES[method]} | " + " | ".join(cells) + f" | {_ms(avg)} |")
    return lines


def matrices(records: list[dict]) -> list[str]:
    lines = [
        "Every run's matrix: the score of each task seen (columns) after each training stage (rows); "
        "accuracy ×100, BLEU 0–100"
    ]
    for method, runs in _by_method(records):
        for r in runs:
            m = r["matrix"]
            lines += [
                "",
                f"{NAMES[method]}, order {' → '.join(m['trained'])}",
                "",
                "| after | " + " | ".join(m["tasks"]) + " |",
                "|---|" + "---:|" * len(m["tasks"]),
            ]
            for trained, row in zip(m["trained"], m["scores"]):
                cells = [f"{_scale(m['metric'][t], v):.1f}" for t, v in zip(m["tasks"], row)]
                cells += ["—"] * (len(m["tasks"]) - len(row))
                lines.append(f"| {trained} | " + " | ".join(cells) + " |")
    return lines


def tables(records: list[dict]) -> str:
    parts = [results_table(records), teacher_table(records), forgetting_table(records), matrices(records)]
    return "\n\n".join("\n".join(p) for p in parts) + "\n"


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
