"""The lifelong results record: the score matrix (row: the task just learnt; column: a task seen),
forgetting, the final average (accuracy ×100 and BLEU on one 0-100 scale), the teacher split."""

from __future__ import annotations

from typing import Any

from lamina.lifelong_learning.format import task_token
from lamina.lifelong_learning.tasks import percent
from lamina.results import RecordPart


class ScoreMatrix(RecordPart):
    tasks: list[str]  # the columns: each task once
    metric: dict[str, str]
    trained: list[str]  # the rows: the sequence learnt
    scores: list[list[float]]


class TaskInfo(RecordPart):
    metric: str
    train_examples: int
    dev_examples: int
    train_dropped_shared_with_dev: int = 0
    description: str | None = None
    token: str | None = None


class LifelongTopLevel(RecordPart):
    """A lifelong run's own keys: it has no section (``record["lifelong"]``); records keep them at the top level."""

    matrix: ScoreMatrix | None = None
    forgetting: dict[str, float] | None = None
    teacher_split: dict[str, dict[str, Any]] | None = None  # --teacher-split: scores by the teacher's correctness
    stages: list[dict[str, Any]] | None = None  # one per task learnt: its training, answers sample, scores
    teachers: dict[str, dict[str, Any]] | None = None  # the KD teachers, by task
    tasks: dict[str, TaskInfo] | None = None


def fill_record(record: dict, cfg, tasks: dict, state: dict, teachers, split: dict | None) -> None:
    """Add the run's results to ``record``: ``split`` is :meth:`Teachers.split`'s (``--teacher-split``)."""
    distinct = cfg.distinct_tasks
    final = dict(zip(distinct, state["matrix"][-1]))
    # the average puts accuracy on BLEU's 0-100 scale (the matrix and per-task metrics keep fractions)
    metrics = {"average": sum(percent(tasks[t].metric, v) for t, v in final.items()) / len(final), **final}
    best = {t: max(row[i] for row in state["matrix"] if len(row) > i) for i, t in enumerate(distinct)}
    record["matrix"] = {
        "tasks": distinct,
        "metric": {t: tasks[t].metric for t in distinct},
        "trained": list(cfg.tasks),
        "scores": state["matrix"],
    }
    record["forgetting"] = {t: best[t] - final[t] for t in distinct}
    if split:
        record["teacher_split"] = split
        for k in ("teacher_accuracy", "acc_teacher_correct", "acc_teacher_wrong"):
            values = [s[k] for s in split.values() if s[k] is not None]
            if values:
                metrics[k] = sum(values) / len(values)
    record["metrics"] = metrics
    record["stages"] = state["stages"]
    record["teachers"] = {t: {k: v for k, v in i.items() if k != "right"} for t, i in teachers.info.items()}
    record["tasks"] = {
        t: {
            "metric": x.metric,
            "train_examples": len(x.train),
            "dev_examples": len(x.dev),
            "train_dropped_shared_with_dev": x.held_out,
            "description": x.description,
            "token": task_token(t),
        }
        for t, x in tasks.items()
    }
