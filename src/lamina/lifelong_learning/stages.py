"""A lifelong stage around its training: the new task's rows (gold, or the teacher's answers), the
scores of every task seen after it, and its checkpoint ``OUT.work/checkpoint-M`` (the model and the
run's state so far; ``trainer_state.json`` is written last, so a folder without it is unfinished)."""

from __future__ import annotations

import shutil
from pathlib import Path

from lamina.lifelong_learning.format import encode_rows
from lamina.lifelong_learning.generation import answer_texts
from lamina.lifelong_learning.tasks import TextTask, score

STATE_FILE = "trainer_state.json"  # written last into OUT.work/checkpoint-M: the stage is complete


def new_state() -> dict:
    return {"matrix": [], "stages": [], "final_right": {}}


def new_task_rows(method, teacher, task: TextTask, encoded: list[dict], tokenizer, tokens, cfg, stage: dict):
    """The rows of the new task, marked ``kd`` when they are learnt as KL to the teacher: the gold
    examples, or (Seq-KD, Seq-KD-soft) the same prompts with the teacher's greedy answers."""
    new = encoded
    if method.teacher_answers:  # the teacher's greedy answers replace the gold ones
        answers = answer_texts(
            teacher, new, tokens, tokenizer, max_answer=cfg.max_answer_tokens, batch_size=cfg.eval_batch_size
        )
        rows = [{**r, "answer": a} for r, a in zip(task.train, answers)]
        stage["teacher_answers_empty"] = sum(not a for a in answers)
        new = encode_rows(
            rows,
            task.name,
            tokenizer,
            tokens,
            max_length=cfg.max_length,  # an empty answer: ANS EOS
            max_answer=cfg.max_answer_tokens,
        )
    kd_flag = int(method.soft_targets)
    return [{**e, "kd": kd_flag} for e in new]


def score_seen(
    model, seen: list[str], tasks: dict[str, TextTask], encoded: dict, tokenizer, tokens, cfg, state: dict, stage: dict
) -> list[float]:
    """Score every task ``seen`` so far by greedy answers to its dev prompts; which were right goes
    to ``state["final_right"]``, a few answers of the stage's task to ``stage``."""
    row = []
    for t in seen:
        answers = answer_texts(
            model,
            encoded[t]["dev"],
            tokens,
            tokenizer,
            max_answer=cfg.max_answer_tokens,
            batch_size=cfg.eval_batch_size,
        )
        value, right = score(tasks[t], answers)
        row.append(value)
        state["final_right"][t] = right
        if t == stage["task"]:
            stage["answers_sample"] = answers[:3]
    stage["scores"] = dict(zip(seen, row))
    return row


def save_stage(model, state: dict, work: Path, m: int) -> None:
    """Keep stage ``m`` (0-based) in ``work/checkpoint-{m+1}``; older checkpoints and the stage's
    Trainer folder go."""
    from lamina.io import write_json

    ckpt = work / f"checkpoint-{m + 1}"
    ckpt.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(ckpt)
    write_json(ckpt / STATE_FILE, state)  # last: the stage is complete
    for old in work.glob("checkpoint-*"):
        if old != ckpt:
            shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(work / f"stage-{m}", ignore_errors=True)


def load_stage(checkpoint: Path):
    """The state and the model kept in ``checkpoint``."""
    import json

    from transformers import AutoModelForCausalLM

    state = json.loads((checkpoint / STATE_FILE).read_text())
    return state, AutoModelForCausalLM.from_pretrained(checkpoint)
