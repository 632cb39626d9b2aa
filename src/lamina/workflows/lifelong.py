"""``lamina lifelong``: one language model learns a sequence of tasks (LAMOL; L2KD, seed 001).

The method, the tasks, the replay and the teachers are described in :mod:`lamina.lifelong_learning`,
which holds them; here are the command's config and its run: read the tasks, add the task
tokens, then per task (after the last finished one on ``--resume``) its teacher, its rows and
the replayed pseudo-data, a stage of training, the scores of every task seen and a checkpoint.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Literal

from pydantic import field_validator, model_validator

from lamina.config import setting
from lamina.errors import LaminaError
from lamina.lifelong_learning.methods import METHOD_NAMES, get_method
from lamina.lifelong_learning.record import LifelongTopLevel
from lamina.lifelong_learning.tasks import TEXT_METRICS, FileMap, MetricMap, TaskList
from lamina.lifelong_learning.trainer import train_stage
from lamina.training.settings import DataSettings, TrainSettings
from lamina.workflows import RunContext, Workflow, register_workflow


class LifelongConfig(TrainSettings, DataSettings):
    model: str = setting(
        ...,
        "The lifelong-learning model: a decoder-only causal LM (folder, bundled alias such as "
        "smollm2-135m, or hub id).",
        missing="give the model (a causal LM) as the first argument",
    )
    tasks: TaskList = setting(
        ...,
        "The task sequence in training order (comma-separated or repeated): a GLUE "
        "classification task (sst2, ...), bbc-news, bbc-headline, or a NAME of --text-file.",
        missing="give the task sequence with --tasks, e.g. sst2,bbc-news",
    )
    method: Literal[METHOD_NAMES] = setting(
        "lamol",
        "finetune: no replay; lamol: replay of generated pseudo-data; word-kd, seq-kd-soft, seq-kd: LAMOL "
        "plus L2KD's per-task teacher on the new task.",
    )
    pseudo_rate: float = setting(
        0.2, "LAMOL's gamma: pseudo-examples of the earlier tasks per new training example.", ge=0
    )
    lm_lambda: float = setting(
        0.25, "Weight of the LM loss (the whole example) next to the QA loss (the answer).", ge=0
    )
    temperature: float = setting(2.0, "Soft-target temperature.", flag="-T", gt=0)
    top_k: int = setting(20, "Top-k sampling of pseudo-examples (0: the full distribution).", ge=0)
    max_answer_tokens: int = setting(
        32, "Longest answer in tokens (gold answers are cut; generation stops there).", ge=1
    )
    text_files: FileMap = setting(
        {},
        "A custom text-to-text task: NAME=TRAIN or NAME=TRAIN,DEV (TSV/CSV/JSONL with "
        "the columns context, question, answer; repeatable).",
        flag="--text-file",
    )
    text_metrics: MetricMap = setting(
        {},
        "The metric of a --text-file task: NAME=accuracy (exact match, the default) or NAME=bleu.",
        flag="--text-metric",
    )
    teacher_split: bool = setting(
        False,
        "Split the final accuracy by the examples each task's teacher got right "
        "and wrong (classification tasks; trains the teachers for finetune and lamol too).",
    )
    teacher_dir: str | None = setting(
        None,
        "Keep the per-task teachers here and reuse them across runs (matched "
        "by model, task and its data, task set and every setting a teacher depends "
        "on).",
    )

    @field_validator("tasks")
    @classmethod
    def _some_tasks(cls, value):
        if not value:
            raise ValueError("the task sequence is empty: give --tasks, e.g. sst2,bbc-news")
        for name in value:
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
                raise ValueError(f"task name '{name}': use letters, digits, '-', '_' or '.'")
        return value

    @model_validator(mode="after")
    def _check(self):
        from lamina.tasks import TASKS

        for name in self.text_files:
            if name in TASKS.names():
                raise ValueError(f"--text-file {name}: '{name}' is a built-in task; give the file another name")
        for name, metric in self.text_metrics.items():
            if name not in self.text_files:
                raise ValueError(f"--text-metric {name}: no --text-file named '{name}'")
            if metric not in TEXT_METRICS:
                raise ValueError(f"--text-metric {name}={metric}: the metric is one of {', '.join(TEXT_METRICS)}")
        for name in self.tasks:
            if name not in self.text_files and name not in TASKS.names():
                raise ValueError(
                    f"unknown task '{name}' in --tasks: a registered task (see `lamina tasks`) or a "
                    "NAME given by --text-file NAME=FILE"
                )
        repeated = sorted({t for t in self.tasks if self.tasks.count(t) > 1})
        if repeated and get_method(self.method).replays:
            raise ValueError(
                f"task '{repeated[0]}' appears twice in --tasks: --method {self.method} replays earlier "
                "tasks by their token and learns each task once (only finetune may revisit a task)"
            )
        if self.eval_steps is not None:
            raise ValueError("--eval-steps does not apply: lifelong scores every task seen after each task")
        from lamina.models.layerdrop import is_active

        if is_active(self.layerdrop):
            raise ValueError("--layerdrop is not supported by lamina lifelong")
        return self

    @property
    def distinct_tasks(self) -> list[str]:
        return list(dict.fromkeys(self.tasks))


@register_workflow("lifelong")
class Lifelong(Workflow):
    """Learn a sequence of text-to-text tasks with one LM (finetune, LAMOL, L2KD's Word-KD / Seq-KD-soft / Seq-KD)."""

    Config = LifelongConfig
    TopLevel = LifelongTopLevel
    arguments = ("model",)
    recipe_defaults = {"progress": False}

    def run(self, cfg: LifelongConfig, ctx: RunContext) -> dict:
        return run_lifelong(cfg, log=ctx.log, callbacks=ctx.callbacks)

    def show(self, record, cfg, echo) -> None:
        m = record["matrix"]
        width = max(10, *(len(t) for t in m["tasks"]))
        echo("after task".ljust(width + 2) + "  ".join(t.rjust(width) for t in m["tasks"]))
        for trained, row in zip(m["trained"], m["scores"]):
            echo(trained.ljust(width + 2) + "  ".join(f"{v:{width}.4f}" for v in row))
        echo(f"final average {record['metrics']['average']:.4f} ({record.get('wall_seconds', 0):.0f} s)")
        super().show(None, cfg, echo)


def run_lifelong(cfg: LifelongConfig, *, log=print, callbacks=None) -> dict:
    import copy
    import gc
    import shutil

    import torch
    from transformers import set_seed

    from lamina.io import atomic_output_dir, check_output_dir
    from lamina.lifelong_learning.card import write_card
    from lamina.lifelong_learning.format import add_task_tokens, encode_tasks
    from lamina.lifelong_learning.record import fill_record
    from lamina.lifelong_learning.replay import replay_rows
    from lamina.lifelong_learning.stages import load_stage, new_state, new_task_rows, save_stage, score_seen
    from lamina.lifelong_learning.tasks import read_tasks
    from lamina.lifelong_learning.teachers import Teachers
    from lamina.models.loading import load_causal_lm
    from lamina.models.width import model_sizes
    from lamina.results import RESULTS_FILE, finish_record, new_record, write_record
    from lamina.training.workdir import begin_work, prepare_work_dir

    check_output_dir(cfg.output, overwrite=cfg.overwrite)
    tasks = read_tasks(cfg)  # bad data fails before any output
    model, tokenizer, source = load_causal_lm(cfg.model, train=True)
    if tokenizer is None:
        raise LaminaError(f"'{cfg.model}' has no tokenizer")
    work, checkpoint = prepare_work_dir(cfg, log=log)
    record = new_record("lifelong", model=cfg.model, task=">".join(cfg.tasks), config=cfg.model_dump(), seed=cfg.seed)
    set_seed(cfg.seed)  # the new token embeddings are drawn from this seed
    tokens = add_task_tokens(model, tokenizer, cfg.distinct_tasks)
    encoded = encode_tasks(tasks, tokenizer, tokens, cfg)
    method = get_method(cfg.method)
    base = copy.deepcopy(model) if (method.uses_teacher or cfg.teacher_split) else None  # the teachers' start
    state = new_state()
    if checkpoint is not None:
        state, model = load_stage(checkpoint)
        log(f"resuming after task {len(state['stages'])} of {len(cfg.tasks)} ({checkpoint.name})")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    teachers = Teachers(base, tokenizer, tokens, tasks, encoded, cfg, work, source, log, device)
    begin_work(work, cfg)

    for m, name in enumerate(cfg.tasks):
        if m < len(state["stages"]):
            continue
        start = time.perf_counter()
        set_seed(cfg.seed + m)
        stage = {"stage": m, "task": name}
        teacher = teachers.get(name) if method.uses_teacher else None
        train_rows = new_task_rows(method, teacher, tasks[name], encoded[name]["train"], tokenizer, tokens, cfg, stage)
        if method.replays and m > 0:
            train_rows += replay_rows(
                model,
                tokenizer,
                tokens,
                cfg.tasks[:m],
                len(train_rows),
                cfg,
                seed=cfg.seed + m,
                log=log,
                stage=stage,
                name=name,
            )
        stage["training"] = train_stage(
            model, train_rows, cfg, work / f"stage-{m}", tokens, teacher=teacher, callbacks=callbacks
        )
        seen = list(dict.fromkeys(cfg.tasks[: m + 1]))
        row = score_seen(model, seen, tasks, encoded, tokenizer, tokens, cfg, state, stage)
        stage["seconds"] = time.perf_counter() - start
        state["matrix"].append(row)
        state["stages"].append(stage)
        log(f"stage {m + 1} ({name}): " + ", ".join(f"{t} {v:.4f}" for t, v in zip(seen, row)))
        del teacher
        gc.collect()
        save_stage(model, state, work, m)

    split = teachers.split(state["final_right"]) if cfg.teacher_split else None
    fill_record(record, cfg, tasks, state, teachers, split)
    record["sizes"] = model_sizes(model)
    with atomic_output_dir(cfg.output, overwrite=cfg.overwrite) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        finish_record(record)
        write_card(tmp, record, name=Path(cfg.output).name)
        write_record(tmp / RESULTS_FILE, record)
    if not cfg.keep_checkpoints:
        shutil.rmtree(work, ignore_errors=True)
    return record
