"""The tail every training command shares: train (resuming when asked), take LayerDrop off,
evaluate through the task's objective, summarise the run and write the output folder."""

from __future__ import annotations

import shutil
from pathlib import Path

from lamina.io import atomic_output_dir
from lamina.results import RESULTS_FILE, finish_record, write_record
from lamina.training.settings import TrainSettings
from lamina.training.workdir import begin_work


def train_and_evaluate(trainer, *, cfg, checkpoint, layerdrop, task, objective, data) -> tuple[object, dict]:
    """``trainer.train`` (from ``checkpoint`` when resuming; a fresh run first records ``cfg``'s
    settings in its work folder), LayerDrop removed, then the objective's evaluation of the best
    model on every evaluation split."""
    if trainer.is_world_process_zero():
        begin_work(Path(trainer.args.output_dir), cfg)
    train_output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    if layerdrop is not None:
        layerdrop.remove()
    return train_output, _evaluate_once(trainer, objective, task, data)


def _best_logged_evaluation(trainer) -> dict | None:
    """The ``eval_*`` metrics the Trainer logged for the checkpoint it restored as the best, if any."""
    best = trainer.state.best_model_checkpoint
    if not best or not trainer.args.load_best_model_at_end:
        return None
    try:
        step = int(Path(best).name.rsplit("-", 1)[-1])
    except ValueError:
        return None
    logged = [h for h in trainer.state.log_history if h.get("step") == step and any(k.startswith("eval_") for k in h)]
    return {k: v for k, v in logged[-1].items() if k.startswith("eval_") or k == "epoch"} if logged else None


def _evaluate_once(trainer, objective, task, data) -> dict:
    """The objective's evaluation of the restored best model. Its dev set was already scored
    during training, on these very weights (the checkpoint was saved right after): that
    evaluation is reused instead of being run a second time; other splits are evaluated."""
    logged = _best_logged_evaluation(trainer)
    evaluate = trainer.evaluate

    def reuse(eval_dataset=None, **kwargs):
        if logged is not None and eval_dataset is trainer.eval_dataset and not kwargs:
            return dict(logged)
        return evaluate(eval_dataset=eval_dataset, **kwargs)

    trainer.evaluate = reuse
    try:
        return objective.evaluate(task, trainer, data)
    finally:
        del trainer.evaluate


def training_summary(trainer, train_output, metrics: dict, checkpoint) -> dict:
    logged = [h for h in trainer.state.log_history if "loss" in h]
    losses = [h["loss"] for h in logged]
    best = trainer.state.best_model_checkpoint
    return {
        "dev_loss": metrics.get("loss"),
        "global_steps": trainer.state.global_step,
        "epochs_done": trainer.state.epoch,
        "train_loss_first": losses[0] if losses else None,
        "train_loss_last": losses[-1] if losses else None,
        "train_loss_mean": train_output.training_loss,
        "best_checkpoint": Path(best).name if best else None,
        "resumed_from": checkpoint.name if checkpoint else None,
        "loss_curve": [[h["step"], h["loss"]] for h in logged],  # (step, training loss) as logged
        "eval_curve": _eval_curve(trainer.state.log_history),  # {metric: [[step, value], ...]}
    }


def _eval_curve(history: list[dict]) -> dict[str, list]:
    skip = ("runtime", "per_second", "epoch", "model_preparation_time")
    curve: dict[str, list] = {}
    for h in history:
        for k, v in h.items():
            if k.startswith("eval_") and not any(s in k for s in skip) and isinstance(v, (int, float)):
                curve.setdefault(k.removeprefix("eval_"), []).append([h["step"], v])
    return curve


def finish_run(cfg: TrainSettings, work: Path, record: dict, *, save, card, main_process: bool = True) -> None:
    """Write the finished model, logs, card and results record into ``cfg.output`` in one
    rename, then drop the work folder (unless checkpoints are to be kept). Under torchrun
    only the main process writes."""
    if not main_process:
        finish_record(record)
        return
    with atomic_output_dir(cfg.output, overwrite=cfg.overwrite) as tmp:
        save(tmp)
        (tmp / "training_args.bin").unlink(missing_ok=True)  # a pickle; the JSON record holds the settings
        runs = work / "runs"
        if runs.is_dir():
            shutil.copytree(runs, tmp / "logs")
        finish_record(record)
        card(tmp)
        write_record(tmp / RESULTS_FILE, record)
    if not cfg.keep_checkpoints:
        shutil.rmtree(work, ignore_errors=True)
