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

from pydantic import model_validator

from lamina.config import setting
from lamina.training.settings import DEFAULT_MODEL, MaskSettings, TaskSettings, TrainSettings
from lamina.workflows import RunContext, Workflow, register_workflow


class FinetuneConfig(TaskSettings, TrainSettings, MaskSettings):
    model: str = setting(
        DEFAULT_MODEL, "Local folder, Hugging Face hub id, or bundled alias (minilm-l6, mpnet-base, smollm2-135m)."
    )
    init_config: str | None = setting(
        None,
        "Train a model from scratch from this config (a folder, JSON file or JSON text with a model_type, e.g. "
        "a small BART for --task multi30k), with a byte-level BPE tokenizer trained on the training text "
        "(key init_config in config files and recipes).",
        flag="--model-config",
    )
    tokenizer_vocab: int = setting(8000, "--model-config: vocabulary size of the BPE tokenizer trained.", ge=300)

    @model_validator(mode="after")
    def _one_model(self):
        if self.init_config and "model" in self.model_fields_set:
            raise ValueError("give a MODEL to fine-tune or --model-config to train one from scratch, not both")
        return self


@register_workflow("finetune")
class Finetune(Workflow):
    """Fine-tune MODEL on a task with HF Trainer; writes the best checkpoint, a model card and metrics JSON."""

    Config = FinetuneConfig
    arguments = ("model",)
    recipe_defaults = {"progress": False}  # a recipe shows one progress display of its own

    def run(self, cfg: FinetuneConfig, ctx: RunContext) -> dict:
        return run_finetune(cfg, callbacks=ctx.callbacks)

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
        """The model card of a fine-tuned model: source, task, training settings and dev scores."""
        from lamina.models.card import fmt_params, front_matter, layerdrop_lines, provenance, scores_table, usage

        cfg, tr, sizes = record["config"], record["training"], record["sizes"]
        lines = [
            *front_matter(["lamina", "text-classification", f"task:{task.name}"]),
            f"# {name}",
            "",
            f"`{record['model']}` fine-tuned on **{task.name}** ({task.description}) with lamina (`lamina finetune`).",
            "",
            "## How it was made",
            "",
            f"- **Source model:** `{record['model']}` ({sizes['layers']} layers, {fmt_params(sizes['parameters'])} parameters)",
            f"- **Task:** `{task.name}`; labels: {list(task.labels) if task.labels else 'regression (one score)'}",
            f"- **Training examples:** {tr['train_examples']:,}"
            + (" (subset)" if cfg.get("max_train_samples") else ""),
            f"- **Evaluation examples:** {tr['eval_examples']}",
            f"- **Settings:** {cfg['epochs']} epochs, lr {cfg['lr']}, batch {cfg['batch_size']}, max length "
            f"{cfg['max_length']}, warm-up {cfg['warmup_ratio']}, weight decay {cfg['weight_decay']}, seed {cfg['seed']}",
            *layerdrop_lines(cfg),
            f"- **Steps:** {tr['global_steps']}; best checkpoint: {tr['best_checkpoint']} (by {task.main_metric})",
            f"- **Training loss:** first logged {tr['train_loss_first']:.4f}, last logged {tr['train_loss_last']:.4f}"
            if tr.get("train_loss_first") is not None
            else "- **Training loss:** not logged",
            f"- **Wall time:** {record.get('wall_seconds', 0):.0f} s",
            *provenance(record),
            "## Scores",
            "",
            *scores_table(record),
            *usage(name, auto_class),
        ]
        return lines


def from_scratch(cfg: FinetuneConfig, task, objective, raw):
    """A randomly initialised model from ``--model-config`` and a BPE tokenizer trained on the
    training split's text (sources and targets of a seq2seq task: one shared vocabulary)."""
    from lamina.data.bpe import train_bpe
    from lamina.data.encode import max_positions
    from lamina.models.loading import config_from_spec

    config = config_from_spec(cfg.init_config)
    train = raw["train"]
    texts = list(train["source"]) + list(train["target"]) if "source" in train.column_names else list(train["text"])
    tokenizer = train_bpe(texts, vocab_size=cfg.tokenizer_vocab, max_length=max_positions(config))
    config.vocab_size = len(tokenizer)
    if getattr(config, "decoder_vocab_size", None) is not None:  # Marian: the decoder's own (default 58101)
        config.decoder_vocab_size = len(tokenizer)
    config.pad_token_id, config.bos_token_id = tokenizer.pad_token_id, tokenizer.bos_token_id
    config.eos_token_id = tokenizer.eos_token_id
    if getattr(config, "is_encoder_decoder", False):
        config.decoder_start_token_id = tokenizer.bos_token_id
        if hasattr(config, "forced_eos_token_id"):
            config.forced_eos_token_id = tokenizer.eos_token_id
    model = objective.model_from_config(config, task)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    if getattr(config, "is_encoder_decoder", False):
        model.generation_config.decoder_start_token_id = tokenizer.bos_token_id
    return model, tokenizer, f"random init from {cfg.init_config} (BPE tokenizer, {len(tokenizer)} tokens)"


def run_finetune(cfg: FinetuneConfig, *, callbacks=None) -> dict:
    from transformers import Trainer, set_seed

    from lamina.data.encode import check_max_length
    from lamina.models.card import write_card
    from lamina.models.layerdrop import apply_layerdrop
    from lamina.models.width import model_sizes
    from lamina.results import new_record
    from lamina.tasks.objectives import PrepSettings, objective_for
    from lamina.training.arguments import training_arguments
    from lamina.training.finish import finish_run, train_and_evaluate, training_summary
    from lamina.training.masks import hold_mask
    from lamina.training.workdir import prepare_work_dir

    task = cfg.get_task()
    objective = objective_for(task)
    work, checkpoint = prepare_work_dir(cfg)
    record = new_record("finetune", model=cfg.model, task=task.name, config=cfg.model_dump(), seed=cfg.seed)
    raw = objective.raw_data(task, cfg.data_dir)
    set_seed(cfg.seed)  # a new head is initialised from this seed
    if cfg.init_config:
        model, tokenizer, source = from_scratch(cfg, task, objective, raw)
        record["model"] = source
    else:
        model, tokenizer, source = objective.load_model(cfg.model, task, train=True)
    check_max_length(cfg.max_length, model.config, tokenizer)
    held, mask_info = hold_mask(model, cfg.mask, init=cfg.mask_init, seed=cfg.seed)
    if held is not None:
        callbacks = [*(callbacks or []), held]
        record["mask"] = mask_info
    layerdrop = apply_layerdrop(model, cfg.layerdrop, seed=cfg.seed)
    data = objective.prepare(task, raw, tokenizer, PrepSettings.of(cfg), model=model)

    args = training_arguments(cfg, work, num_examples=len(data.train), **objective.trainer_settings(task))
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=data.train,
        eval_dataset=data.evals["dev"],
        processing_class=tokenizer,
        data_collator=data.collator,
        compute_metrics=objective.compute_metrics(task),
        callbacks=callbacks,
    )
    train_output, metrics = train_and_evaluate(
        trainer, cfg=cfg, checkpoint=checkpoint, layerdrop=layerdrop, task=task, objective=objective, data=data
    )
    record["metrics"] = {k: v for k, v in metrics.items() if k in task.metrics}
    record["training"] = {
        **training_summary(trainer, train_output, metrics, checkpoint),
        "train_examples": len(data.train),
        "eval_examples": {s: len(d) for s, d in data.evals.items()},
        "source_path": source,
        **data.info,
    }
    record["sizes"] = model_sizes(model)

    finish_run(
        cfg,
        work,
        record,
        save=lambda tmp: trainer.save_model(str(tmp)),
        main_process=trainer.is_world_process_zero(),
        card=lambda tmp: write_card(
            tmp, record, task=task, name=Path(cfg.output).name, auto_class=objective.auto_class_for(model)
        ),
    )
    return record
