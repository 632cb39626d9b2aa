"""L2KD's per-task teachers: the starting model fine-tuned on one task alone (NLL, QA + LM), kept
in ``--teacher-dir`` (else ``OUT.work/teachers``) under a key, and reused by any later run with
the same key.

The key is the run's whole config (:func:`lamina.training.workdir.run_settings`: minus what a
resume may change, such as ``logging_steps``) minus :data:`TEACHER_FREE`, the settings a teacher
never reads, plus what identifies the model, the task and its data. A new setting therefore
keys the teachers until it is named here (``bf16`` and ``group_by_length`` do)."""

from __future__ import annotations

import time
from pathlib import Path

from lamina.lifelong_learning.generation import answer_texts
from lamina.lifelong_learning.tasks import TextTask, score
from lamina.lifelong_learning.trainer import train_stage

# settings a teacher does not depend on: the rest of the task sequence and how the student learns
# from it (the teacher learns one task with NLL), the teachers' own options, and where the model
# and the --text-file data are named (the key holds the resolved model and the task's data instead)
TEACHER_FREE = (
    "model",
    "tasks",
    "method",
    "pseudo_rate",
    "temperature",
    "top_k",
    "text_files",
    "text_metrics",
    "teacher_split",
    "teacher_dir",
)


def teacher_key(cfg, task: TextTask, source: str) -> dict:
    """What decides the teacher of ``task`` in the run ``cfg`` (``source``: the model as loaded)."""
    import json

    from lamina.training.workdir import run_settings

    settings = {k: v for k, v in run_settings(cfg).items() if k not in TEACHER_FREE}
    key = {
        "model": source,
        "task": task.name,
        "metric": task.metric,
        "data": task.source,
        "task_set": sorted(cfg.distinct_tasks),
        "train_examples": len(task.train),
        "dev_examples": len(task.dev),
        "settings": settings,
    }
    return json.loads(json.dumps(key, default=str))


def teacher_digest(key: dict) -> str:
    import hashlib
    import json

    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:12]


def get_teacher(
    base, tokenizer, tokens, task: TextTask, encoded: dict, cfg, work: Path, source: str, log
) -> tuple[object, dict]:
    """The starting model fine-tuned on ``task`` alone (NLL, QA + LM), reused from ``--teacher-dir``
    when one with the same key is there; its dev score and per-example correctness."""
    import copy
    import json

    from transformers import AutoModelForCausalLM, set_seed

    from lamina.io import atomic_output_dir, write_json

    key = teacher_key(cfg, task, source)
    root = Path(cfg.teacher_dir).expanduser() if cfg.teacher_dir else work / "teachers"
    folder = root / f"{task.name}-{teacher_digest(key)}"
    meta_path = folder / "teacher.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta.get("key") == key:
            log(f"teacher for {task.name}: reused {folder}")
            return AutoModelForCausalLM.from_pretrained(folder), {**meta, "reused": True, "path": str(folder)}
    log(f"teacher for {task.name}: fine-tuning the starting model on {task.name} alone")
    set_seed(cfg.seed)
    teacher = copy.deepcopy(base)
    start = time.perf_counter()
    rows = [{**e, "kd": 0} for e in encoded["train"]]
    summary = train_stage(teacher, rows, cfg, work / f"teacher-{task.name}", tokens)
    answers = answer_texts(
        teacher, encoded["dev"], tokens, tokenizer, max_answer=cfg.max_answer_tokens, batch_size=cfg.eval_batch_size
    )
    value, right = score(task, answers)
    meta = {
        "key": key,
        "score": value,
        "metric": task.metric,
        "right": right,
        "training": summary,
        "seconds": time.perf_counter() - start,
    }
    with atomic_output_dir(folder, overwrite=True) as tmp:
        teacher.save_pretrained(tmp)
        write_json(tmp / "teacher.json", meta)
    log(f"teacher for {task.name}: {task.metric} {value:.4f}")
    return teacher, {**meta, "reused": False, "path": str(folder)}


class Teachers:
    """A run's teachers, each trained (or reused) when first asked for; ``info[task]`` is what
    :func:`get_teacher` said of it."""

    def __init__(
        self,
        base,
        tokenizer,
        tokens,
        tasks: dict[str, TextTask],
        encoded: dict,
        cfg,
        work: Path,
        source: str,
        log,
        device,
    ):
        self.base, self.tokenizer, self.tokens, self.tasks, self.encoded = base, tokenizer, tokens, tasks, encoded
        self.cfg, self.work, self.source, self.log, self.device = cfg, work, source, log, device
        self.info: dict[str, dict] = {}

    def get(self, name: str):
        teacher, info = get_teacher(
            self.base,
            self.tokenizer,
            self.tokens,
            self.tasks[name],
            self.encoded[name],
            self.cfg,
            self.work,
            self.source,
            self.log,
        )
        self.info[name] = info
        return teacher.to(self.device)

    def split(self, final_right: dict[str, list[bool]]) -> dict[str, dict]:
        """:func:`teacher_split` of every classification task (training the teachers not asked for yet)."""
        split = {}
        for t, task in self.tasks.items():
            if task.metric != "accuracy":
                continue
            if t not in self.info:
                self.get(t)
            split[t] = teacher_split(self.info[t]["right"], final_right[t])
        return split


def teacher_split(teacher_right: list[bool], final_right: list[bool]) -> dict:
    """Seed 001's second table for one task: the final accuracy on the examples the teacher got
    right (A) and wrong (B)."""
    a = [f for t, f in zip(teacher_right, final_right) if t]
    b = [f for t, f in zip(teacher_right, final_right) if not t]
    return {
        "teacher_accuracy": sum(teacher_right) / len(teacher_right),
        "accuracy": sum(final_right) / len(final_right),
        "acc_teacher_correct": sum(a) / len(a) if a else None,
        "acc_teacher_wrong": sum(b) / len(b) if b else None,
        "teacher_correct": len(a),
        "teacher_wrong": len(b),
    }
