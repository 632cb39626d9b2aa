"""``lamina compress MODEL --task T -o OUT`` with one budget: the smallest honest path from a
fine-tuned classifier to a faster or smaller one that meets the budget, measured on this machine.

The algorithm (each choice with the figure behind it; the parts are in :mod:`lamina.compression`):

1. **Reference.** The input model is timed on PyTorch fp32 (the ``--speedup`` reference) and, for
   ``--backend onnx|onnx-int8``, exported and timed on that backend; its dev score is measured. A
   budget the input model already meets is refused (nothing to compress).
2. **Search, measured.** The grid of shapes the architecture can express (depth × FFN {1, 1/2,
   1/4} × heads/hidden {1, 1/2}: :mod:`lamina.compression.shapes`); a cost proxy scaled from the
   measured reference picks at most ``--max-shapes`` (8) to time; each is timed once on the shipped
   backend (:mod:`lamina.compression.speed`); only the shapes whose *measured* figure meets the
   budget go on. None: refused with the closest figure, nothing written.
3. **Rank, cheaply.** Each shape that meets the budget is cut from the teacher as its healing will
   start (strategy ``contribution``: 94.83 at 3 layers on bbc-news against alternate 91.69 and top
   66.07 in the quickstart; width by ``activation`` importance, Minitron's) and scored by the heal
   loss against the teacher on ``--probe-samples`` training examples, with no training
   (:mod:`lamina.compression.probe`).
4. **Heal** the ``--heal`` (2) lowest-loss shapes with ``lamina distill`` (:data:`HEAL`: kd 0.5 +
   ce 0.5 at T 2, lr 1e-4, 2 epochs: the mix lamina's benchmarks healed every student with, e.g.
   3:384:12:384 94.66 at 3.82x from a 96.89 teacher), each a plain run folder; a candidate whose
   estimated healing time exceeds what is left of ``--time-budget`` is skipped (the first always
   runs: the run was refused up front if even one could not fit). Exported to the backend when it
   is not PyTorch.
5. **Choose** the healed candidate with the best dev score on the shipped backend (ties: the
   fewer parameters, then the faster); when its drop from the input model exceeds ``--max-drop``, it is still the answer
   and one line says so (terminal, record, card).
6. **Write** ``OUT`` in one rename: the chosen model (a plain HF folder, or the exported folder),
   its card (budget, what was tried, what met it, every candidate's score and speed), the record,
   ``report/`` (table + Pareto plot of score vs measured latency, size as marker) and every
   candidate's run folder under ``candidates/``.

Resuming: ``OUT.work/`` holds ``run_settings.json`` (what decides the result), ``search.json``
(the measurements and the teacher's score, written once the search passed every check, so timing
noise cannot change the candidates on resume), ``ranking.json`` and ``candidates/NAME/`` (a
``lamina distill`` output, complete when its record exists: distill writes atomically). A killed
run continues with ``--resume`` from the last finished candidate; an unfinished one is redone from
its start (seeded: the choice equals an uninterrupted run's). Time spent before the kill counts
against ``--time-budget`` (``progress.json``).

Tasks: sequence classification and regression; causal LM, seq2seq, masked LM and image tasks are
refused for now.

Why one file of more than 500 lines: a command is one file (settings with the budget checks, the
run, card, terminal table, report row, record section), and compress's run is one resumable sequence
of phases whose state (search.json, ranking.json, progress.json) each phase reads back; the phases'
own logic (shapes, speed, probe, report) is in :mod:`lamina.compression`.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import model_validator

from lamina.config import setting
from lamina.results import RecordPart
from lamina.training.settings import OutputSettings, TaskSettings
from lamina.workflows import RunContext, Workflow, register_workflow

# How every candidate is cut and healed: written down once (the figures are in the docstring above)
HEAL = {"strategy": "contribution", "importance": "activation", "loss": {"kd": 0.5, "ce": 0.5}, "temperature": 2.0}
SEARCH_FILE, RANKING_FILE, PROGRESS_FILE = "search.json", "ranking.json", "progress.json"
BUDGET_FIELDS = ("speedup", "latency_ms", "max_params", "max_size_mb")


class CompressConfig(TaskSettings, OutputSettings):
    model: str = setting(
        ...,
        "Fine-tuned model to compress (folder, hub id or bundled alias); also the teacher that heals the candidates.",
        missing="give the fine-tuned model to compress: lamina compress MODEL --task T -o OUT --speedup X",
    )
    speedup: float | None = setting(
        None,
        "Budget: throughput at least X times the input model's (PyTorch fp32, "
        "--speed-batch-size × --speed-seq-len), measured here on --backend.",
        gt=0,
    )
    latency_ms: float | None = setting(
        None, "Budget: batch-1 latency at --speed-seq-len tokens at most L ms on --backend, measured here.", gt=0
    )
    max_params: int | None = setting(None, "Budget: at most N parameters.", ge=1)
    max_size_mb: float | None = setting(None, "Budget: weights as shipped by --backend at most S MB.", gt=0)
    max_drop: float = setting(
        2.0,
        "Dev-score points the user accepts to lose; when no candidate stays within, the "
        "closest is returned and says so.",
        ge=0,
    )
    time_budget: float = setting(
        60.0, "Minutes of wall-clock for the search and the healing (a candidate that would not fit is skipped).", gt=0
    )
    backend: Literal["torch", "onnx", "onnx-int8"] = setting(
        "torch", "What will be shipped (and timed): torch (a plain HF folder), onnx or onnx-int8 (the exported folder)."
    )
    speed_batch_size: int = setting(8, "Batch size of the speed measurement (before and after).", ge=1)
    speed_seq_len: int = setting(128, "Sequence length of the speed measurement.", ge=2)
    max_shapes: int = setting(8, "Shapes timed at most (picked from the grid by a cost proxy).", ge=1)
    heal: int = setting(2, "Candidates healed by KD at most (the lowest probe losses).", ge=1)
    probe_samples: int = setting(128, "Training examples the un-healed candidates are ranked on.", ge=1)
    epochs: float = setting(2.0, "Healing epochs per candidate.", gt=0)
    lr: float = setting(1e-4, "Healing learning rate.", gt=0)
    batch_size: int = setting(32, "Training batch size per device.", ge=1)
    max_length: int = setting(128, "Tokens per example (truncation); tokens per block for text corpora.", ge=2)
    seed: int = setting(42, "Random seed (initialisation, data order, subsets, masking).")
    max_train_samples: int | None = setting(
        None, "Train on a seeded subset of N examples (stratified by label for classification).", ge=1
    )
    max_eval_samples: int | None = setting(
        None, "Evaluate on a seeded subset of N examples (stratified by label for classification).", ge=1
    )
    max_steps: int = setting(-1, "Stop after N steps (overrides --epochs; -1: off).", ge=-1)
    resume: bool = setting(False, "Continue an interrupted run from its newest complete checkpoint in OUT.work.")

    @model_validator(mode="after")
    def _one_budget(self):
        given = [k for k in BUDGET_FIELDS if getattr(self, k) is not None]
        if not given:
            raise ValueError("give one budget: --speedup X, --latency-ms L, --max-params N or --max-size-mb S")
        if len(given) > 1:
            raise ValueError("one budget at a time: got " + " and ".join("--" + k.replace("_", "-") for k in given))
        if self.speedup is not None and self.speedup <= 1:
            raise ValueError(
                f"--speedup {self.speedup:g}: the input model itself runs at 1x; ask for more than 1 (e.g. --speedup 2)"
            )
        return self

    @property
    def budget(self):
        from lamina.compression.shapes import Budget

        kind = next(k for k in BUDGET_FIELDS if getattr(self, k) is not None)
        return Budget(kind, float(getattr(self, kind)))


class CompressShape(RecordPart):
    name: str
    shape: dict[str, int]
    predicted: float | None = None  # the budget's figure by the proxy (what chose it for timing)
    measured: dict[str, Any]
    meets: bool
    probe_loss: float | None = None
    status: str = ""  # not timed | over budget | ranked | healed | skipped: ...
    score: float | None = None  # dev, points, on the backend
    drop: float | None = None
    metrics: dict[str, float | None] | None = None
    folder: str | None = None
    heal_seconds: float | None = None
    heal_estimate_seconds: float | None = None


class CompressSection(RecordPart):
    """``record["compress"]``: the budget, the reference, every shape timed, the choice."""

    budget: dict[str, Any]
    backend: str
    metric: str
    max_drop: float
    reference: dict[str, Any]
    grid_size: int
    shapes: list[CompressShape]
    heal: dict[str, Any]
    chosen: str
    within_max_drop: bool
    notice: str | None = None
    phases: dict[str, float] = {}
    time_budget_seconds: float
    seconds_spent: float
    resumed: bool = False


@register_workflow("compress")
class Compress(Workflow):
    """Make a fine-tuned classifier meet one budget (--speedup, --latency-ms, --max-params or --max-size-mb):
    time the shapes it can take on this machine, rank those that meet the budget, heal the best few by KD,
    and keep the most accurate (OUT: the model, its card, report/ and every candidate's run folder)."""

    Config = CompressConfig
    Section = CompressSection
    arguments = ("model",)

    @classmethod
    def resumable(cls, work: Path) -> bool:
        return (work / SEARCH_FILE).is_file()

    def run(self, cfg: CompressConfig, ctx: RunContext) -> dict:
        return run_compress(cfg, log=ctx.log)

    def show(self, record, cfg, echo) -> None:
        c = record["compress"]
        for s in c["shapes"]:
            if s.get("score") is not None:
                m = s["measured"]
                echo(
                    f"  {s['name']:>18}  {s['score']:6.2f} ({s['drop']:+.2f})  {m['speedup']:.2f}x  "
                    f"{m['latency_ms']:.2f} ms  {m['megabytes']:.1f} MB"
                    + ("  ← chosen" if s["name"] == c["chosen"] else "")
                )
        if c.get("notice"):
            echo(c["notice"])
        echo(f"saved to {cfg.output} (model card: {cfg.output}/README.md, report: {cfg.output}/report/)")

    def exported_format(self, record: dict) -> str | None:
        backend = (record.get("compress") or {}).get("backend")
        return None if backend in (None, "torch") else backend

    def report_row(self, record: dict) -> dict:
        return {"backend": (record.get("compress") or {}).get("backend")}

    def card(self, folder, record: dict, *, name: str, **context) -> list[str]:
        from lamina.compression.report import card

        return card(record, name)


def _points(metric: str, value: float) -> float:
    from lamina.eval.metrics import is_fraction

    return 100 * value if is_fraction(metric, value) else value


def _widths(shape, full) -> dict:
    return {k: getattr(shape, k) for k in ("ffn", "heads", "hidden") if getattr(shape, k) != getattr(full, k)}


def _refuse_task(task, objective) -> None:
    from lamina.errors import LaminaError

    if not objective.reads_text or not objective.has_labels or objective.generates:
        raise LaminaError(
            f"lamina compress handles text classification and regression for now, not --task "
            f"{task.name}: prune and distill it with lamina prune / lamina distill"
        )


def _heal_estimate(shape, full, search: dict, cfg: CompressConfig, n_train: int, n_dev: int, first: bool) -> float:
    """Seconds to heal ``shape``, from measured speeds: per step 3 forward passes of the student
    (forward + backward) on a padded batch, plus the dev scoring each epoch and, for the first
    candidate, the teacher's pass that fills the teacher-output cache."""
    from lamina.compression.shapes import multiply_adds

    ref = search["reference"]["torch"]
    per_example_ref = 1.0 / ref["samples_per_second"] * cfg.max_length / ref["seq_len"]
    per_example = (
        per_example_ref * multiply_adds(shape, full, cfg.max_length) / multiply_adds(full, full, cfg.max_length)
    )
    steps = cfg.max_steps if cfg.max_steps > 0 else math.ceil(cfg.epochs * n_train / cfg.batch_size)
    epochs = max(1.0, math.ceil(cfg.epochs))
    return (
        steps * cfg.batch_size * 3 * per_example
        + epochs * n_dev * per_example
        + (n_train * per_example_ref if first else 0.0)
    )


def _search(cfg, teacher, tokenizer, texts, score_teacher, progress) -> dict:
    """The reference, the grid, the shapes timed (phase 2). Raises before anything is written."""
    from lamina.compression import shapes as sh
    from lamina.compression import speed
    from lamina.data.encode import max_positions
    from lamina.errors import LaminaError

    budget, backend = cfg.budget, cfg.backend
    kw = dict(
        tokenizer=tokenizer,
        texts=texts,
        batch_size=cfg.speed_batch_size,
        seq_len=min(cfg.speed_seq_len, max_positions(teacher.config)),
    )
    progress.start("search")
    progress.say("timing the input model on torch" + ("" if backend == "torch" else f" and {backend}"))
    ref_torch = speed.measure(teacher, backend="torch", **kw)
    ref_torch["speedup"] = 1.0
    ref = (
        ref_torch
        if backend == "torch"
        else speed.measure(teacher, backend=backend, reference=ref_torch["samples_per_second"], **kw)
    )
    if budget.meets(ref):
        tail = f"; `lamina export {cfg.model} --format {backend}` alone ships it" if backend != "torch" else ""
        raise LaminaError(
            f"the input model already meets {budget.text()} ({budget.show(ref)} on {backend}): "
            f"nothing to compress{tail}"
        )
    full = sh.shape_of(teacher)
    grid = sh.grid(teacher.config)
    vocab = int(getattr(teacher.config, "vocab_size", 0) or 0)
    predicted = {s: sh.predict(s, full, ref, budget, seq_len=kw["seq_len"], vocab=vocab) for s in grid}
    chosen = sh.select(grid, predicted, budget, cfg.max_shapes)
    timed = []
    for i, shape in enumerate(chosen, 1):
        progress.say(f"timing shape {i}/{len(chosen)} {shape.name} on {backend}")
        m = speed.measure(
            speed.shape_model(teacher, shape), backend=backend, reference=ref_torch["samples_per_second"], **kw
        )
        timed.append(
            {
                "name": shape.name,
                "shape": shape.as_dict(),
                "predicted": predicted[shape],
                "measured": m,
                "meets": budget.meets(m),
                "status": "ranked" if budget.meets(m) else "over budget",
            }
        )
    if not any(t["meets"] for t in timed):
        close = sorted(timed, key=lambda t: budget.of(t["measured"]), reverse=sh.BUDGETS[budget.kind][1] == "min")[0]
        raise LaminaError(
            f"no shape meets {budget.text()} on {backend}: the closest of the {len(timed)} timed, "
            f"{close['name']}, measures {budget.show(close['measured'])}; ask for less"
        )
    progress.say("scoring the input model on the dev set")
    score, metrics = score_teacher()
    progress.end()
    return {
        "reference": {"torch": ref_torch, "backend": ref, "score": score, "metrics": metrics, "shape": full.as_dict()},
        "grid_size": len(grid),
        "shapes": timed,
    }


def run_compress(cfg: CompressConfig, log=print) -> dict:
    from lamina.compression import probe as pr
    from lamina.compression.progress import Progress
    from lamina.compression.shapes import Shape, shape_of
    from lamina.errors import LaminaError
    from lamina.eval.metrics import greater_is_better
    from lamina.io import check_output_dir, write_json
    from lamina.tasks.objectives import ScoreSettings, objective_for
    from lamina.training.workdir import check_same_settings, run_settings, work_dir_for

    task = cfg.get_task()
    objective = objective_for(task)
    _refuse_task(task, objective)
    check_output_dir(cfg.output, overwrite=cfg.overwrite)
    work = work_dir_for(cfg.output)
    before = 0.0
    if cfg.resume:
        if not (work / SEARCH_FILE).is_file():
            raise LaminaError(
                f"nothing to resume: {work} holds no finished search (a compress stopped before its "
                "search ended leaves nothing to continue): run it again without --resume"
            )
        check_same_settings(work, run_settings(cfg), resume=True)
        try:
            before = float(json.loads((work / PROGRESS_FILE).read_text())["seconds_spent"])
        except (OSError, ValueError, KeyError):
            before = 0.0
    elif work.exists():
        if not cfg.overwrite:
            raise LaminaError(
                f"an interrupted compress left {work}: add --resume to continue it or --overwrite to start again"
            )
        shutil.rmtree(work)
    progress = Progress(work / PROGRESS_FILE, 60 * cfg.time_budget, log, spent_before=before)
    from lamina.results import new_record

    record = new_record("compress", model=cfg.model, task=task.name, config=cfg.model_dump(), seed=cfg.seed)
    teacher, tokenizer, _ = objective.load_model(cfg.model, task, train=False)
    if tokenizer is None:
        raise LaminaError(f"'{cfg.model}' has no tokenizer files: compress reads text")
    raw = objective.raw_data(task, cfg.data_dir)
    metric = task.main_metric
    scorer = objective.scorer(
        task,
        tokenizer,
        ScoreSettings(
            split="dev",
            data_dir=cfg.data_dir,
            max_samples=cfg.max_eval_samples,
            seed=cfg.seed,
            max_length=cfg.max_length,
        ),
        record,
    )

    def score(model) -> tuple[float, dict]:
        metrics = scorer(model)
        return _points(metric, metrics[metric]), metrics

    full = shape_of(teacher)
    n_train = min(len(raw["train"]), cfg.max_train_samples or len(raw["train"]))
    n_dev = sum(min(len(raw[s]), cfg.max_eval_samples or len(raw[s])) for s in task.eval_splits)
    if cfg.resume:
        search = json.loads((work / SEARCH_FILE).read_text())
        progress.log(f"[resume] search read from {work / SEARCH_FILE}")
    else:
        texts = [r for r in raw["train"].select(range(min(4, len(raw["train"]))))["text"]]
        search = _search(cfg, teacher, tokenizer, texts, lambda: score(teacher), progress)
        feasible = [Shape.of(s["shape"]) for s in search["shapes"] if s["meets"]]
        quickest = min(_heal_estimate(s, full, search, cfg, n_train, n_dev, True) for s in feasible)
        if quickest > progress.left():
            raise LaminaError(
                f"--time-budget {cfg.time_budget:g} min is too small to heal anything: the quickest "
                f"candidate needs about {quickest / 60:.1f} min here after {progress.spent() / 60:.1f} "
                f"min of search (estimated from the measured speeds); give --time-budget "
                f"{math.ceil((progress.spent() + quickest) / 60 * 1.2)} or more"
            )
        check_same_settings(work, run_settings(cfg), resume=False)  # the work folder starts here
        write_json(work / SEARCH_FILE, search)
    shapes = {s["name"]: s for s in search["shapes"]}

    # 3. rank the shapes that meet the budget
    progress.start("rank")
    ranking_path = work / RANKING_FILE
    if ranking_path.is_file():
        ranking = json.loads(ranking_path.read_text())
    else:
        from lamina.distillation.student import build_student
        from lamina.workflows.distill import _calibration, _calibration_texts

        stats, memo = _calibration(raw["train"]), {}

        def calibration(model, tok, token=None):
            if token not in memo:
                memo[token] = stats(model, tok, token=token)
            return memo[token]

        batches = pr.labelled_batches(tokenizer, raw["train"], samples=cfg.probe_samples, max_length=cfg.max_length)
        targets = pr.teacher_logits(teacher, batches)
        ranking = {}
        feasible = [s for s in search["shapes"] if s["meets"]]
        for i, s in enumerate(feasible, 1):
            progress.say(f"probing {i}/{len(feasible)} {s['name']}")
            shape = Shape.of(s["shape"])
            student, _, _ = build_student(
                task=task,
                teacher=teacher,
                teacher_tokenizer=tokenizer,
                teacher_name=cfg.model,
                from_teacher=HEAL["strategy"],
                keep=shape.layers,
                calibration=calibration,
                seed=cfg.seed,
                width=_widths(shape, full),
                importance=HEAL["importance"],
                width_texts=lambda: _calibration_texts(raw["train"]),
                max_length=cfg.max_length,
            )
            ranking[s["name"]] = pr.probe_loss(
                student,
                batches,
                targets,
                loss=HEAL["loss"],
                temperature=HEAL["temperature"],
                regression=task.is_regression,
            )
        write_json(ranking_path, ranking)
    order = sorted(ranking, key=lambda n: (ranking[n], n))
    for name, loss in ranking.items():
        shapes[name]["probe_loss"] = loss

    # 4. heal the best few, each a plain lamina distill run folder
    progress.start("heal")
    healed = []
    for rank, name in enumerate(order[: cfg.heal]):
        s, shape = shapes[name], Shape.of(shapes[name]["shape"])
        folder = work / "candidates" / shape.slug
        s["heal_estimate_seconds"] = round(_heal_estimate(shape, full, search, cfg, n_train, n_dev, rank == 0), 1)
        done = (folder / "lamina_results.json").is_file()
        if not done and healed and s["heal_estimate_seconds"] > progress.left():
            s["status"] = f"skipped: about {s['heal_estimate_seconds'] / 60:.1f} min to heal, time budget spent"
            progress.say(f"skipping {name}: {s['status']}")
            continue
        progress.say(f"{'reading' if done else 'healing'} candidate {rank + 1}/{min(cfg.heal, len(order))} {name}")
        s.update(_heal(cfg, shape, full, folder, done, progress))
        s["score"], s["metrics"] = _score_candidate(cfg, folder, score, progress)
        gap = search["reference"]["score"] - s["score"]
        s["drop"] = round(gap if greater_is_better(metric) else -gap, 4)
        s["status"] = "healed"
        healed.append(s)
    for name in order[cfg.heal :]:
        shapes[name]["status"] = "ranked, not healed"

    # 5. choose
    # ties: the fewer parameters (exact, so a resumed run breaks them as an uninterrupted one), then the faster
    best = sorted(
        healed, key=lambda s: (-s["score"], s["measured"]["parameters"], -s["measured"]["samples_per_second"])
    )[0]
    within = best["drop"] <= cfg.max_drop
    notice = (
        None
        if within
        else (
            f"nothing met --max-drop {cfg.max_drop:g}: the closest, {best['name']}, drops "
            f"{best['drop']:.2f} points; it is the answer in {cfg.output}"
        )
    )
    if notice:
        log(notice)
    progress.start("write")
    progress.say(f"writing {cfg.output} ({best['name']})")
    progress.end()
    record["compress"] = {
        "budget": {"kind": cfg.budget.kind, "value": cfg.budget.value, "text": cfg.budget.text()},
        "backend": cfg.backend,
        "metric": metric,
        "max_drop": cfg.max_drop,
        "reference": search["reference"],
        "grid_size": search["grid_size"],
        "shapes": list(shapes.values()),
        "heal": {**HEAL, "lr": cfg.lr, "epochs": cfg.epochs, "max_steps": cfg.max_steps, "batch_size": cfg.batch_size},
        "chosen": best["name"],
        "within_max_drop": within,
        "notice": notice,
        "phases": progress.phases,
        "time_budget_seconds": 60 * cfg.time_budget,
        "seconds_spent": round(progress.spent(), 2),
        "resumed": cfg.resume,
    }
    _write(cfg, record, best, work)
    return record


def _heal(cfg: CompressConfig, shape, full, folder: Path, done: bool, progress) -> dict:
    from lamina.workflows.distill import DistillConfig, run_distill

    if not done:
        for partial in (folder, folder.with_name(folder.name + ".work")):
            shutil.rmtree(partial, ignore_errors=True)
        start = time.time()
        run_distill(
            DistillConfig(
                teacher=[cfg.model],
                task=cfg.task,
                task_options=cfg.task_options,
                data_dir=cfg.data_dir,
                output=str(folder),
                student_from_teacher=HEAL["strategy"],
                keep=shape.layers,
                **_widths(shape, full),
                importance=HEAL["importance"],
                loss=HEAL["loss"],
                temperature=HEAL["temperature"],
                epochs=cfg.epochs,
                lr=cfg.lr,
                batch_size=cfg.batch_size,
                max_length=cfg.max_length,
                seed=cfg.seed,
                max_train_samples=cfg.max_train_samples,
                max_eval_samples=cfg.max_eval_samples,
                max_steps=cfg.max_steps,
                progress=False,
            ),
            log=lambda line: progress.log(f"  {line}"),
        )
        (folder / "heal_seconds.txt").write_text(f"{time.time() - start:.1f}\n")
    seconds = folder / "heal_seconds.txt"
    return {
        "folder": f"candidates/{folder.name}",
        "heal_seconds": float(seconds.read_text()) if seconds.is_file() else None,
    }


def _score_candidate(cfg: CompressConfig, folder: Path, score, progress) -> tuple[float, dict]:
    """The healed candidate's dev score on the shipped backend (exported beside it when not torch)."""
    from transformers import AutoModelForSequenceClassification

    if cfg.backend == "torch":
        return score(AutoModelForSequenceClassification.from_pretrained(folder).eval())
    from lamina.models.formats import get_format
    from lamina.workflows.export import ExportConfig, run_export

    exported = folder.with_name(f"{folder.name}-{cfg.backend}")
    if not (exported / "lamina_results.json").is_file():
        shutil.rmtree(exported, ignore_errors=True)
        run_export(
            ExportConfig(
                model=str(folder),
                format=cfg.backend,
                output=str(exported),
                max_length=cfg.max_length,
                parity_samples=32,
                data_dir=cfg.data_dir,
            ),
            log=progress.log,
        )
    return score(get_format(cfg.backend).load(exported))


def _write(cfg: CompressConfig, record: dict, best: dict, work: Path) -> None:
    """OUT in one rename: the chosen model, card, record, report/ and candidates/; OUT.work goes."""
    from lamina.compression.report import plot, table
    from lamina.eval.timing import weights_size_bytes
    from lamina.io import atomic_output_dir
    from lamina.models.card import write_card
    from lamina.results import RESULTS_FILE, finish_record, write_record

    c = record["compress"]
    chosen = work / best["folder"]
    if cfg.backend != "torch":
        chosen = chosen.with_name(f"{chosen.name}-{cfg.backend}")
    with atomic_output_dir(cfg.output, overwrite=cfg.overwrite) as tmp:
        for f in chosen.iterdir():
            if f.is_file() and f.name not in ("README.md", RESULTS_FILE, "heal_seconds.txt"):
                shutil.copy2(f, tmp / f.name)
        if cfg.backend != "torch":
            c["reference"]["inputs"] = json.loads((chosen / RESULTS_FILE).read_text())["export"]["inputs"]
        shutil.copytree(work / "candidates", tmp / "candidates")
        for f in (tmp / "candidates").glob("*/heal_seconds.txt"):
            f.unlink()
        (tmp / "report").mkdir()
        (tmp / "report" / "candidates.md").write_text("\n".join(table(c)) + "\n", encoding="utf-8")
        plot(c, tmp / "report" / "pareto.png")
        m, full = best["measured"], c["reference"]
        record["metrics"] = {k: v for k, v in best["metrics"].items()}
        record["sizes"] = {
            "layers": best["shape"]["layers"],
            "parameters": m["parameters"],
            "bytes": weights_size_bytes(tmp),
            "shape": best["shape"],
            "layers_before": full["shape"]["layers"],
            "parameters_before": full["torch"]["parameters"],
        }
        record["speeds"] = {
            "backend": cfg.backend,
            "samples_per_second": m["samples_per_second"],
            "speedup_vs_input": m["speedup"],
            "latency_ms_batch1": m["latency_ms"],
            "latency_ms_batch1_range": m["latency_range_ms"],
            "batch_size": m["batch_size"],
            "seq_len": m["seq_len"],
            "threads": m["threads"],
        }
        finish_record(record)
        write_card(tmp, record, name=Path(cfg.output).name)
        write_record(tmp / RESULTS_FILE, record)
    shutil.rmtree(work, ignore_errors=True)
