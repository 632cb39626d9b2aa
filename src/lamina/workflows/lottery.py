"""``lamina lottery``: lottery tickets by iterative magnitude pruning with rewinding
(Frankle & Carbin 2019; for pre-trained BERT, Chen et al. 2020), and its two baselines.

``--mode imp`` (default): round 0 fine-tunes the dense model; then each round prunes the
surviving weights by magnitude (one global threshold, or ``--per-layer``), rewinds the
survivors and trains again, until ``--target-sparsity``. ``--schedule linear`` removes
``--prune-rate`` of the *original* weights per round (Chen et al.'s 10%: 10%, 20%, ...),
``geometric`` that share of the *remaining* ones (Frankle & Carbin). The rewind target is
the pretrained weights (default, as the BERT-Tickets code), the weights after
``--rewind-step K`` steps of round 0, or a seeded random re-initialisation (the control);
the task head keeps its trained values across rounds (as the reference code) unless
``--rewind-head``.

``--mode oneshot``: the pretrained weights pruned by magnitude to the target in one go
(Chen et al.'s "pruning θ0"), then fine-tuned once; ``--mode random``: a random mask at the
target sparsity, fine-tuned once.

What is pruned and how a mask is held: :mod:`lamina.models.sparsity`. Every round's mask
(safetensors, with its sparsity and score) and, unless ``--no-save-round-models``, its trained
model are in ``OUT/rounds/round-R/``; ``OUT`` itself is a plain HF folder of the final ticket
(zeros in place, no pruning hooks) with ``mask.safetensors`` and a card giving per-matrix and
global sparsity. Train the mask on another task with ``lamina finetune --mask OUT``, or
distil into it with ``lamina distill --mask OUT``.

``--resume`` continues an interrupted run after its last *finished* round. While the run goes,
every round is kept in ``OUT.work/rounds/round-R/``: its mask, its trained model (kept there
for resuming even with ``--no-save-round-models``, then only the newest one), its
``training.json`` and, written last and atomically, ``round.json``: a round folder without it
was interrupted and is redone. With ``--rewind-step K`` the step-K weights are saved in
``round-0/rewind.safetensors`` (work folder only). Resuming reloads the last finished round's
model and mask, prunes and rewinds exactly as the uninterrupted run did (the rewind target is
rebuilt from the same seed, or read back for ``--rewind-step``) and trains the remaining
rounds; each round's Trainer is seeded afresh, so the ticket equals an uninterrupted run's.
The settings that decide the result are kept in ``OUT.work/run_settings.json``; resuming with
others is refused. ``oneshot``/``random`` have one training: ``--resume`` only finishes a run
whose training ended (else it is refused: start again with ``--overwrite``).

Why one file of more than 500 lines: a command is one file (settings, run, card, terminal table,
report row, record section), and lottery's run is one protocol (rounds, masks, rewinding, resume by
finished rounds) whose parts read the same round state; the mask machinery itself is in
:mod:`lamina.models.sparsity` and the masked training in :mod:`lamina.training.masks`.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Literal

from pydantic import model_validator

from lamina.config import setting
from lamina.results import RecordPart
from lamina.training.settings import DEFAULT_MODEL, TaskSettings, TrainSettings
from lamina.workflows import RunContext, Workflow, register_workflow


class LotteryConfig(TaskSettings, TrainSettings):
    model: str = setting(DEFAULT_MODEL, "Pretrained model (folder, hub id or bundled alias).")
    mode: Literal["imp", "oneshot", "random"] = setting(
        "imp",
        "imp: iterative magnitude pruning with rewinding; oneshot: magnitude-prune the pretrained weights "
        "once, then fine-tune; random: a random mask, then fine-tune.",
    )
    target_sparsity: float = setting(0.5, "Share of the prunable weights removed at the end.", gt=0, lt=1)
    prune_rate: float = setting(
        0.1,
        "Share pruned per round (of the original weights for --schedule linear, of the remaining ones for geometric).",
        gt=0,
        lt=1,
    )
    schedule: Literal["linear", "geometric"] = setting(
        "linear", "linear: rate × original per round (Chen et al.); geometric: rate × remaining (Frankle & Carbin)."
    )
    per_layer: bool = setting(False, "One magnitude threshold per matrix instead of one global threshold.")
    rewind: Literal["pretrained", "step", "random"] = setting(
        "pretrained",
        "Rewind survivors to the pretrained weights, to the weights at --rewind-step of round 0, or "
        "to a seeded random re-initialisation (the control).",
    )
    rewind_step: int | None = setting(
        None, "Rewind to the weights after this many steps of round 0 (implies --rewind step).", ge=0
    )
    rewind_head: bool = setting(False, "Rewind the task head too (the reference code keeps the trained head).")
    save_round_models: bool = setting(
        True, "Save each round's trained model under OUT/rounds/ (the masks are always saved)."
    )

    @model_validator(mode="after")
    def _no_layerdrop(self):
        from lamina.models.layerdrop import is_active

        if is_active(self.layerdrop):
            raise ValueError("--layerdrop is not applied by lamina lottery (its rounds train the full depth)")
        return self

    @model_validator(mode="after")
    def _check_rewind(self):
        if self.rewind_step is not None:
            if self.rewind not in ("pretrained", "step"):
                raise ValueError(f"--rewind-step goes with --rewind step, not --rewind {self.rewind}")
            self.rewind = "step"
        elif self.rewind == "step":
            raise ValueError("--rewind step needs --rewind-step K")
        return self


ROUND_FILE = "round.json"  # written last (atomically): a round folder without it is unfinished
TRAINING_FILE = "training.json"  # the round's training summary (losses, steps)
MASK_FILE = "mask.safetensors"
REWIND_FILE = "rewind.safetensors"  # round 0 with --rewind-step: the weights survivors rewind to


def round_number(folder: Path) -> int | None:
    """R of a ``round-R`` folder (``None`` for any other name)."""
    r = folder.name[len("round-") :]
    return int(r) if folder.name.startswith("round-") and r.isdigit() else None


def round_folders(work: Path) -> list[Path]:
    """``OUT.work/rounds/round-R`` folders, first round first."""
    rounds = work / "rounds"
    if not rounds.is_dir():
        return []
    return sorted((p for p in rounds.iterdir() if p.is_dir() and round_number(p) is not None), key=round_number)


def round_unfinished(folder: Path) -> str | None:
    """What a round folder lacks to count as finished (``None`` when it is finished)."""
    missing = [n for n in (MASK_FILE, TRAINING_FILE, ROUND_FILE) if not (folder / n).is_file()]
    return f"no {' and no '.join(missing)}" if missing else None


class LotteryRound(RecordPart):
    round: int
    sparsity: float
    main_metric: str
    score: float | None = None
    metrics: dict[str, float | None] = {}
    steps: int | None = None
    train_loss: float | None = None
    seconds: dict[str, float] = {}  # train, evaluate_and_save, prune_and_rewind


class LotterySection(RecordPart):
    """``record["lottery"]``: how the ticket was found, every round, the masks' sparsity."""

    mode: str
    schedule: str | None = None
    schedule_meaning: str | None = None
    prune_rate: float | None = None
    target_sparsity: float | None = None
    threshold: str | None = None  # per-layer | global
    rewind: str | None = None
    rewind_step: int | None = None
    rewind_head: bool = False
    rounds: list[LotteryRound] = []
    global_sparsity: float | None = None
    per_matrix: dict[str, float] = {}
    prunable_weights: int | None = None
    pruned: str | None = None  # which weights a mask covers, in words


@register_workflow("lottery")
class Lottery(Workflow):
    """Lottery tickets: iterative magnitude pruning with rewinding (or one-shot / random baselines)."""

    Config = LotteryConfig
    Section = LotterySection
    arguments = ("model",)
    recipe_defaults = {"progress": False}

    @classmethod
    def resumable(cls, work: Path) -> bool:
        return any(round_unfinished(f) is None for f in round_folders(work))

    def run(self, cfg: LotteryConfig, ctx: RunContext) -> dict:
        return run_lottery(cfg, callbacks=ctx.callbacks, log=ctx.log)

    def show(self, record, cfg, echo) -> None:
        if record:
            for r in record["lottery"]["rounds"]:
                echo(f"round {r['round']}: sparsity {100 * r['sparsity']:.1f}%  {r['main_metric']} {r['score']:.4f}")
        super().show(record, cfg, echo)

    def card(
        self,
        folder,
        record: dict,
        *,
        name: str,
        task,
        auto_class: str = "AutoModelForSequenceClassification",
        **context,
    ) -> list[str]:
        """The model card of a lottery ticket: how it was found, every round, global and per-matrix sparsity."""
        from lamina.models.card import fmt_params, front_matter, provenance, scores_table, usage

        cfg, lt, sizes = record["config"], record["lottery"], record["sizes"]
        how = {
            "imp": f"iterative magnitude pruning ({lt['threshold']} threshold, {lt['schedule']} schedule: "
            f"{lt['schedule_meaning']}, rate {lt['prune_rate']}), rewound to {lt['rewind']}"
            + (f" (step {lt['rewind_step']})" if lt["rewind"] == "step" else "")
            + ("; the head rewound too" if lt["rewind_head"] else "; the head keeps its trained values"),
            "oneshot": f"one-shot magnitude pruning of the pretrained weights ({lt['threshold']} threshold), then fine-tuned",
            "random": "a random mask at the target sparsity, then fine-tuned",
        }[lt["mode"]]
        lines = [
            *front_matter(["lamina", "lottery-ticket", "sparse", f"task:{task.name}"]),
            f"# {name}",
            "",
            f"A {100 * lt['global_sparsity']:.1f}%-sparse subnetwork of `{record['model']}` trained on **{task.name}** "
            f"({task.description}) with lamina (`lamina lottery --mode {lt['mode']}`). The zeros are stored in place "
            "in the weights (dense tensors): a vanilla `from_pretrained` keeps them; `mask.safetensors` holds the mask.",
            "",
            "## How it was made",
            "",
            f"- **Method:** {how}",
            f"- **Pruned:** {lt['pruned']}",
            f"- **Prunable weights:** {lt['prunable_weights']:,}; non-zero after pruning: {sizes['nonzero_prunable']:,} "
            f"(global sparsity {100 * lt['global_sparsity']:.2f}%); all parameters: {fmt_params(sizes['parameters'])}",
            f"- **Settings per round:** {cfg['epochs']} epochs, lr {cfg['lr']}, batch {cfg['batch_size']}, max length "
            f"{cfg['max_length']}, seed {cfg['seed']}",
            f"- **Wall time:** {record.get('wall_seconds', 0):.0f} s",
            *provenance(record),
            "## Rounds",
            "",
            "| round | sparsity | " + lt["rounds"][0]["main_metric"] + " (dev) | steps |",
            "|---:|---:|---:|---:|",
            *[f"| {r['round']} | {100 * r['sparsity']:.1f}% | {r['score']:.4f} | {r['steps']} |" for r in lt["rounds"]],
            "",
            "## Sparsity per matrix",
            "",
            "| matrix | sparsity |",
            "|---|---:|",
            *[f"| `{k}` | {100 * v:.1f}% |" for k, v in lt["per_matrix"].items()],
            "",
            "## Scores",
            "",
            *scores_table(record),
            *usage(name, auto_class),
        ]
        return lines


def _snapshot_callback(model, step: int):
    """A Trainer callback that copies the model's state after ``step`` optimizer steps (``.state``)."""
    from transformers import TrainerCallback

    class Snapshot(TrainerCallback):
        state = None

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == step and self.state is None:
                self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}

    return Snapshot()


def _rewind_target(cfg: LotteryConfig, model, initial: dict) -> dict:
    """The weights survivors rewind to, when not taken during round 0."""
    if cfg.rewind == "random":
        import copy

        from lamina.training.masks import reinitialise_base

        shadow = copy.deepcopy(model)
        reinitialise_base(shadow, cfg.seed + 1)
        return {k: v.detach().clone() for k, v in shadow.state_dict().items()}
    return initial


def _restore(work: Path, last: Path, model, objective, task) -> tuple[list, dict, dict]:
    """The finished rounds up to ``last``: ``(their round.json entries, last's mask, last's
    training summary)``, with ``model`` holding last's trained weights."""
    from lamina.errors import LaminaError
    from lamina.models.sparsity import load_masks

    done = [f for f in round_folders(work) if round_number(f) <= round_number(last)]
    for i, f in enumerate(done):
        if f.name != f"round-{i}" or round_unfinished(f) is not None:
            raise LaminaError(
                f"cannot resume {work}: round-{i} is missing or unfinished while {last.name} is "
                "finished (a folder removed by hand?): use --overwrite to start again"
            )
    if not (last / "model" / "config.json").is_file():
        raise LaminaError(
            f"cannot resume: {last / 'model'} (the model of the last finished round) is missing; "
            "use --overwrite to start again"
        )
    rounds = [json.loads((f / ROUND_FILE).read_text(encoding="utf-8")) for f in done]
    masks, _ = load_masks(last / MASK_FILE)
    trained = objective.load_model(str(last / "model"), task, train=True)[0]
    model.load_state_dict(trained.state_dict())
    return rounds, masks, json.loads((last / TRAINING_FILE).read_text(encoding="utf-8"))


def run_lottery(cfg: LotteryConfig, *, callbacks=None, log=print) -> dict:
    import torch
    from transformers import Trainer, set_seed

    from lamina.data.encode import check_max_length
    from lamina.errors import LaminaError
    from lamina.io import write_json
    from lamina.models.card import write_card
    from lamina.models.sparsity import (
        MaskCallback,
        apply_masks,
        dense_masks,
        magnitude_masks,
        random_masks,
        save_masks,
        save_sparse,
        schedule,
        sparsity_of,
    )
    from lamina.models.width import model_sizes
    from lamina.results import new_record
    from lamina.tasks.objectives import PrepSettings, objective_for
    from lamina.training.arguments import total_steps, training_arguments
    from lamina.training.finish import finish_run, training_summary
    from lamina.training.masks import mask_summary
    from lamina.training.workdir import begin_work, prepare_work_dir

    task = cfg.get_task()
    objective = objective_for(task)
    sparsities = schedule(cfg.target_sparsity, cfg.prune_rate, cfg.schedule) if cfg.mode == "imp" else []
    work, last = prepare_work_dir(cfg, log=log, found=round_folders, incomplete=round_unfinished)
    record = new_record("lottery", model=cfg.model, task=task.name, config=cfg.model_dump(), seed=cfg.seed)
    raw = objective.raw_data(task, cfg.data_dir)
    set_seed(cfg.seed)
    model, tokenizer, source = objective.load_model(cfg.model, task, train=True)
    if objective.reads_text:
        check_max_length(cfg.max_length, model.config, tokenizer)
    data = objective.prepare(task, raw, tokenizer, PrepSettings.of(cfg), model=model)
    per_round = total_steps(cfg, len(data.train))
    if cfg.rewind == "step" and cfg.rewind_step > per_round:
        raise LaminaError(f"--rewind-step {cfg.rewind_step} is beyond training: a round has {per_round} steps")

    initial = {k: v.detach().clone() for k, v in model.state_dict().items()}  # pretrained + the seeded new head
    head = {k for k in initial if not k.startswith(f"{model.base_model_prefix}.")}
    target = None if cfg.rewind == "step" else _rewind_target(cfg, model, initial)

    if cfg.mode == "oneshot":
        masks = magnitude_masks(model, cfg.target_sparsity, per_layer=cfg.per_layer)
    elif cfg.mode == "random":
        masks = random_masks(model, cfg.target_sparsity, seed=cfg.seed)
    else:
        masks = dense_masks(model)
    apply_masks(model, masks)
    trainings = len(sparsities) + 1 if cfg.mode == "imp" else 1
    rounds_dir = work / "rounds"

    def prune_and_rewind(r: int) -> None:
        nonlocal masks
        masks = magnitude_masks(model, sparsities[r], previous=masks, per_layer=cfg.per_layer)
        with torch.no_grad():
            state = model.state_dict()
            for k, v in state.items():
                if k in head and not cfg.rewind_head:
                    continue
                v.copy_(target[k])
        apply_masks(model, masks)

    rounds, summary = [], None
    if last is not None:  # resume after the last finished round
        rounds, masks, summary = _restore(work, last, model, objective, task)
        if cfg.rewind == "step":
            from safetensors.torch import load_file

            saved = rounds_dir / "round-0" / REWIND_FILE
            if not saved.is_file():
                raise LaminaError(
                    f"cannot resume: {saved} (the --rewind-step weights) is missing; use --overwrite to start again"
                )
            target = load_file(str(saved))
        if len(rounds) < trainings:
            prune_and_rewind(len(rounds) - 1)
        log(f"resuming after {last.name}: {len(rounds)} of {trainings} rounds finished")
        for r in range(len(rounds), trainings):  # the interrupted round's Trainer folder: start it afresh
            shutil.rmtree(work / f"round-{r}", ignore_errors=True)

    begin_work(work, cfg)
    for r in range(len(rounds), trainings):
        t0 = time.perf_counter()
        hold = MaskCallback(model, masks)
        snap = _snapshot_callback(model, cfg.rewind_step) if (r == 0 and cfg.rewind == "step") else None
        args = training_arguments(
            cfg, work / f"round-{r}", num_examples=len(data.train), **objective.trainer_settings(task)
        )
        trainer = Trainer(
            model=model,
            args=args,
            train_dataset=data.train,
            eval_dataset=data.evals["dev"],
            processing_class=tokenizer,
            data_collator=data.collator,
            compute_metrics=objective.compute_metrics(task),
            callbacks=[*(callbacks or []), hold, *([snap] if snap else [])],
        )
        train_output = trainer.train()
        t_train = time.perf_counter()
        metrics = objective.evaluate(task, trainer, data)
        score = metrics.get(task.main_metric)
        sparsity = sparsity_of(masks)
        log(f"round {r}: sparsity {100 * sparsity:.1f}%, {task.main_metric} {score}")
        folder = rounds_dir / f"round-{r}"
        folder.mkdir(parents=True, exist_ok=True)
        save_masks(
            folder / MASK_FILE,
            masks,
            round=r,
            score=score,
            metric=task.main_metric,
            task=task.name,
            model=cfg.model,
            mode=cfg.mode,
        )
        save_sparse(model, folder / "model")  # for --resume; OUT keeps it as --save-round-models says
        if tokenizer is not None:
            tokenizer.save_pretrained(folder / "model")
        summary = training_summary(trainer, train_output, metrics, None)
        write_json(folder / TRAINING_FILE, summary)
        entry = {
            "round": r,
            "sparsity": sparsity,
            "main_metric": task.main_metric,
            "score": score,
            "metrics": {k: v for k, v in metrics.items() if k in task.metrics},
            "steps": trainer.state.global_step,
            "train_loss": train_output.training_loss,
            "seconds": {"train": round(t_train - t0, 2), "evaluate_and_save": round(time.perf_counter() - t_train, 2)},
        }
        rounds.append(entry)
        if snap is not None:
            if snap.state is None:
                raise LaminaError(f"round 0 ended before --rewind-step {cfg.rewind_step}")
            target = snap.state
            from safetensors.torch import save_file

            save_file({k: v.contiguous() for k, v in target.items()}, str(folder / REWIND_FILE))
        del trainer  # a new optimizer (and schedule) each round, as the reference code
        if r < trainings - 1:  # prune, then rewind the survivors
            t_prune = time.perf_counter()
            prune_and_rewind(r)
            entry["seconds"]["prune_and_rewind"] = round(time.perf_counter() - t_prune, 2)
        write_json(folder / ROUND_FILE, entry)  # last (atomic): the round is finished
        if not cfg.save_round_models and r > 0:  # only the newest round's model is needed to resume
            shutil.rmtree(rounds_dir / f"round-{r - 1}" / "model", ignore_errors=True)

    summary_of_masks = mask_summary(model, masks)
    record["metrics"] = dict(rounds[-1]["metrics"])
    record["lottery"] = {
        "mode": cfg.mode,
        "schedule": cfg.schedule if cfg.mode == "imp" else None,
        "schedule_meaning": (
            "prune-rate of the original weights per round"
            if cfg.schedule == "linear"
            else "prune-rate of the remaining weights per round"
        )
        if cfg.mode == "imp"
        else None,
        "prune_rate": cfg.prune_rate if cfg.mode == "imp" else None,
        "target_sparsity": cfg.target_sparsity,
        "threshold": "per-layer" if cfg.per_layer else "global",
        "rewind": cfg.rewind if cfg.mode == "imp" else None,
        "rewind_step": cfg.rewind_step,
        "rewind_head": cfg.rewind_head,
        "rounds": rounds,
        **summary_of_masks,
        "pruned": "the Linear weights of every block (attention Q/K/V/output, both feed-forward matrices) and "
        "the pooler; never embeddings, biases, LayerNorms or the task head",
    }
    record["training"] = {
        **summary,
        "resumed_from": last.name if last is not None else None,
        "train_examples": len(data.train),
        "steps_per_round": per_round,
        "eval_examples": {s: len(d) for s, d in data.evals.items()},
        "source_path": source,
    }
    record["sizes"] = {
        **model_sizes(model),
        "nonzero_prunable": int(sum(int(m.sum()) for m in masks.values())),
    }

    def work_only(directory, names):  # what OUT/rounds leaves out
        drop = {REWIND_FILE}
        if not cfg.save_round_models or Path(directory).name == f"round-{trainings - 1}":
            drop.add("model")  # the last round's model is OUT itself
        return [n for n in names if n in drop] if Path(directory).parent == rounds_dir else []

    def save(tmp):
        save_sparse(model, tmp)
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
        save_masks(
            tmp / MASK_FILE,
            masks,
            round=len(rounds) - 1,
            score=rounds[-1]["score"],
            metric=task.main_metric,
            task=task.name,
            model=cfg.model,
            mode=cfg.mode,
        )
        shutil.copytree(rounds_dir, tmp / "rounds", ignore=work_only)

    finish_run(
        cfg,
        work,
        record,
        save=save,
        card=lambda tmp: write_card(
            tmp, record, task=task, name=Path(cfg.output).name, auto_class=objective.auto_class_for(model)
        ),
    )
    return record
