"""``lamina finetune``: train a model on a task with HF Trainer.

Classification and regression (a sequence-classification head: new when training from an
encoder or from a model fine-tuned on other labels) and masked-LM tasks (continued MLM
training), each as its task's objective says. Dynamic padding, evaluation and checkpoints
every ``eval_steps`` (or every epoch), the best checkpoint by the task's main metric (in
that metric's direction) restored at the end, Trainer progress bars and TensorBoard logs.
Works from any supported model: a pretrained encoder, a pruned folder (fine-tune after
dropping) or a model already fine-tuned (drop-from-fine-tuned, then fine-tune again).
"""

from __future__ import annotations

from pathlib import Path

from lamina.config import setting
from lamina.training.settings import DEFAULT_MODEL, MaskSettings, TaskSettings, TrainSettings
from lamina.workflows import RunContext, Workflow, register_workflow


class FinetuneConfig(TaskSettings, TrainSettings, MaskSettings):
    model: str = setting(DEFAULT_MODEL, "Local folder, Hugging Face hub id, or bundled alias (minilm-l6, mpnet-base, "
                         "smollm2-135m).")


@register_workflow("finetune")
class Finetune(Workflow):
    """Fine-tune MODEL on a task with HF Trainer; writes the best checkpoint, a model card and metrics JSON."""

    Config = FinetuneConfig
    arguments = ("model",)
    recipe_defaults = {"progress": False}  # a recipe shows one progress display of its own

    def run(self, cfg: FinetuneConfig, ctx: RunContext) -> dict:
        return run_finetune(cfg, callbacks=ctx.callbacks)


def run_finetune(cfg: FinetuneConfig, *, callbacks=None) -> dict:
    from transformers import Trainer, set_seed

    from lamina.data.encode import check_max_length
    from lamina.eval.timing import parameter_count
    from lamina.models.adapters import get_adapter
    from lamina.models.card import write_finetune_card
    from lamina.models.layerdrop import apply_layerdrop
    from lamina.results import new_record
    from lamina.tasks.objectives import objective_for
    from lamina.training.arguments import training_arguments
    from lamina.training.finish import finish_run, train_and_evaluate, training_summary
    from lamina.training.masks import hold_mask
    from lamina.training.workdir import prepare_work_dir

    task = cfg.get_task()
    objective = objective_for(task)
    work, checkpoint = prepare_work_dir(cfg.output, resume=cfg.resume, overwrite=cfg.overwrite)
    record = new_record("finetune", model=cfg.model, task=task.name, config=cfg.model_dump(), seed=cfg.seed)
    raw = objective.raw_data(task, cfg.data_dir)
    set_seed(cfg.seed)  # a new head is initialised from this seed
    model, tokenizer, source = objective.load_model(cfg.model, task, train=True)
    check_max_length(cfg.max_length, model.config, tokenizer)
    held, mask_info = hold_mask(model, cfg.mask, init=cfg.mask_init, seed=cfg.seed)
    if held is not None:
        callbacks = [*(callbacks or []), held]
        record["mask"] = mask_info
    layerdrop = apply_layerdrop(model, cfg.layerdrop, seed=cfg.seed)
    data = objective.prepare(task, raw, tokenizer, cfg)

    args = training_arguments(cfg, work, num_examples=len(data.train), **objective.trainer_settings(task))
    trainer = Trainer(
        model=model, args=args, train_dataset=data.train, eval_dataset=data.evals["dev"], processing_class=tokenizer,
        data_collator=data.collator, compute_metrics=objective.compute_metrics(task), callbacks=callbacks,
    )
    train_output, metrics = train_and_evaluate(trainer, checkpoint=checkpoint, layerdrop=layerdrop, task=task,
                                               objective=objective, evals=data.evals)
    record["metrics"] = {k: v for k, v in metrics.items() if k in task.metrics}
    record["training"] = {
        **training_summary(trainer, train_output, metrics, checkpoint),
        "train_examples": len(data.train),
        "eval_examples": {s: len(d) for s, d in data.evals.items()},
        "source_path": source,
        **data.info,
    }
    record["sizes"] = {"layers": get_adapter(model).num_layers(model.config), "parameters": parameter_count(model)}

    finish_run(cfg, work, record, save=lambda tmp: trainer.save_model(str(tmp)), main_process=trainer.is_world_process_zero(),
               card=lambda tmp: write_finetune_card(tmp, record, task, name=Path(cfg.output).name,
                                                    auto_class=objective.auto_class))
    return record
