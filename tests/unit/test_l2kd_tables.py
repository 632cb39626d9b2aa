"""benchmarks/l2kd_tables.py: seed 001's L2KD tables from lifelong records (synthetic records, no training)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))

from l2kd_tables import _records, tables  # noqa: E402


def _record(method, order, scores, split):
    metric = {"sst2": "accuracy", "news": "accuracy", "head": "bleu"}
    final = dict(zip(order, scores[-1]))
    best = {t: max(row[i] for row in scores if len(row) > i) for i, t in enumerate(order)}
    return {
        "kind": "lifelong",
        "config": {"method": method},
        "matrix": {
            "tasks": list(order),
            "trained": list(order),
            "metric": {t: metric[t] for t in order},
            "scores": scores,
        },
        "metrics": final,
        "forgetting": {t: best[t] - final[t] for t in order},
        "teacher_split": {
            t: dict(
                zip(
                    (
                        "teacher_accuracy",
                        "accuracy",
                        "acc_teacher_correct",
                        "acc_teacher_wrong",
                        "teacher_correct",
                        "teacher_wrong",
                    ),
                    v,
                )
            )
            for t, v in split.items()
        },
    }


def _rows(text, start):
    return [line for line in text.splitlines() if line.startswith(start)]


def test_tables_average_over_orders_and_split_per_task(tmp_path):
    split = {"sst2": (0.5, 0.4, 0.6, 0.2, 5, 5), "news": (0.9, 0.8, 0.8, 0.8, 9, 1)}
    records = [
        _record("lamol", ["sst2", "news", "head"], [[0.9], [0.8, 1.0], [0.6, 0.7, 10.0]], split),
        _record("lamol", ["head", "news", "sst2"], [[20.0], [10.0, 0.9], [6.0, 0.5, 0.8]], split),
        _record(
            "finetune",
            ["sst2", "news", "head"],
            [[0.9], [0.1, 1.0], [0.0, 0.0, 12.0]],
            {"sst2": (0.5, 0.0, 0.0, 0.0, 5, 5), "news": (0.9, 0.1, 0.1, 0.0, 9, 1)},
        ),
    ]
    (tmp_path / "results").mkdir()
    for i, r in enumerate(records + [{"kind": "finetune"}]):
        (tmp_path / "results" / f"{i}.json").write_text(json.dumps(r))
    loaded = _records(tmp_path)
    assert len(loaded) == 3  # the non-lifelong record is skipped
    text = tables(loaded)
    t1 = _rows(text, "| LAMOL | 2 |")
    # columns sorted head, news, sst2; head BLEU (10, 6) → 8.0 ± 2.8; news acc (0.7, 0.5) → 60.0 ± 14.1
    assert t1 and "| 8.0 ± 2.8 | 60.0 ± 14.1 | 70.0 ± 14.1 |" in t1[0]
    assert _rows(text, "| Fine-tune | 1 |")[0].endswith("| 4.0 |")  # (12 + 0 + 0) / 3
    t2 = _rows(text, "| Teacher |")[0]
    assert t2.startswith("| Teacher | 70.0 ± 0.0 | 100.0 | 0.0 | 90.0 ± 0.0 |")  # mean of 0.5 and 0.9, then news
    lamol2 = [r for r in _rows(text, "| LAMOL |") if "| 2 |" not in r][0]
    assert lamol2.startswith("| LAMOL | 60.0 ± 0.0 | 70.0 ± 0.0 | 50.0 ± 0.0 | 80.0 ± 0.0 |")
    # forgetting avg leaves out the task trained last: order 1 (sst2 30, news 30) → 30; order 2 (head 14, news 40) → 27
    forget = _rows(text, "| LAMOL | ")[2]
    assert forget == "| LAMOL | 7.0 ± 9.9 | 35.0 ± 7.1 | 15.0 ± 21.2 | 28.5 ± 2.1 |"
    assert "| news | 80.0 | 100.0 | — |" in text  # the first order's matrix, stage 2
