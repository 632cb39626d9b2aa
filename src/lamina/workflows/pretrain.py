"""``lamina pretrain``: a masked language model trained from scratch on plain-text files.

When no pretrained MLM weights are at hand (as in the robust-initialization source document, 002), a small BERT-style model
is trained this way: masked-LM only (no next-sentence prediction), optionally with LayerDrop
so that layers can be removed afterwards. The data, collator and evaluation are the
``mlm`` task's objective: the standard 15% masking, evaluation loss and perplexity on a
held-out corpus masked once from the seed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import model_validator

from lamina.config import setting
from lamina.results import RecordPart
from lamina.training.settings import DEFAULT_MODEL, CorpusSettings, TrainSettings
from lamina.workflows import RunContext, Workflow, register_workflow

# model types whose configs take BERT's field names (hidden_size, num_hidden_layers, ...)
PRETRAIN_MODEL_TYPES = ("bert", "roberta", "electra", "mpnet")


class PretrainConfig(CorpusSettings, TrainSettings):
    corpus: list[str] = setting(
        ...,
        "Plain-text training file (repeat for several).",
        min_length=1,
        missing="give a text corpus with --corpus FILE",
    )
    tokenizer: str = setting(DEFAULT_MODEL, "Model folder or alias whose tokenizer to use.")
    model_type: Literal["bert", "roberta", "electra", "mpnet"] = setting("bert", "bert, roberta, electra or mpnet.")
    num_layers: int = setting(4, "Transformer layers of the model built.", ge=1)
    hidden_size: int = setting(256, "Hidden size of the model built.", ge=8)
    num_heads: int = setting(4, "Attention heads per layer of the model built.", ge=1)
    intermediate_size: int | None = setting(
        None, "Feed-forward size of the model built (default 4 × --hidden-size).", ge=1
    )
    epochs: float = setting(1.0, "Training epochs.", gt=0)
    lr: float = setting(5e-4, "Peak learning rate (linear decay after --warmup-ratio of the steps).", gt=0)
    group_by_length: bool = setting(False, "Batch examples of similar length (blocks all have one length).")
    # the size of the model built, named as in its Hugging Face config (prune's and distill's --heads and
    # --hidden are how many to keep)
    renamed = {
        "layers": "num_layers",
        "hidden": "hidden_size",
        "heads": "num_heads",
        "intermediate": "intermediate_size",
    }

    @model_validator(mode="after")
    def _check(self):
        if self.hidden_size % self.num_heads:
            raise ValueError(f"--hidden-size {self.hidden_size} is not divisible by --num-heads {self.num_heads}")
        return self


class PretrainSection(RecordPart):
    """``record["pretrain"]``: the architecture built from scratch and the corpus blocks."""

    model_type: str
    hidden: int
    heads: int
    intermediate: int
    vocab_size: int
    block_size: int
    train_blocks: int
    eval_blocks: int
    eval_source: str | None = None
    eval_mask_seed: int | None = None


@register_workflow("pretrain")
class Pretrain(Workflow):
    """Train a masked language model from scratch on text files (optionally with LayerDrop)."""

    Config = PretrainConfig
    Section = PretrainSection
    recipe_defaults = {"progress": False}

    def run(self, cfg: PretrainConfig, ctx: RunContext) -> dict:
        return run_pretrain(cfg, callbacks=ctx.callbacks)

    def show(self, record, cfg, echo) -> None:
        m = record["metrics"]
        echo(f"eval MLM loss {m['loss']:.4f}, perplexity {m['perplexity']:.1f}  ({record['wall_seconds']:.0f} s)")
        echo(f"saved to {cfg.output} (model card: {cfg.output}/README.md)")

    def card(self, folder, record: dict, *, name: str, **context) -> list[str]:
        """The model card of a masked-LM trained from scratch by ``lamina pretrain``."""
        from lamina.models.card import fmt_params, front_matter, layerdrop_lines, provenance, usage

        cfg, tr, sizes, m = record["config"], record["training"], record["sizes"], record["metrics"]
        p = record["pretrain"]
        lines = [
            *front_matter(["lamina", "fill-mask", "masked-lm"]),
            f"# {name}",
            "",
            f"A {sizes['layers']}-layer {p['model_type']} masked language model trained from scratch with lamina "
            "(`lamina pretrain`).",
            "",
            "## How it was made",
            "",
            f"- **Architecture:** {p['model_type']}, {sizes['layers']} layers, hidden {p['hidden']}, {p['heads']} heads, "
            f"intermediate {p['intermediate']}; {fmt_params(sizes['parameters'])} parameters",
            f"- **Tokenizer:** from `{cfg['tokenizer']}` (vocabulary {p['vocab_size']:,})",
            f"- **Training corpus:** {', '.join(f'`{c}`' for c in cfg['corpus'])}: {p['train_blocks']:,} blocks of "
            f"{p['block_size']} tokens",
            f"- **Evaluation:** {p['eval_source']}: {p['eval_blocks']:,} blocks, masked once (seed {p['eval_mask_seed']})",
            f"- **Objective:** masked LM, {cfg['mlm_probability']:.0%} of tokens (80% [MASK], 10% random, 10% kept)",
            f"- **Settings:** {cfg['epochs']} epochs, lr {cfg['lr']}, batch {cfg['batch_size']}, warm-up "
            f"{cfg['warmup_ratio']}, seed {cfg['seed']}; {tr['global_steps']} steps",
            *layerdrop_lines(cfg),
            f"- **Wall time:** {record.get('wall_seconds', 0):.0f} s",
            *provenance(record),
            "## Scores",
            "",
            "| metric | value |",
            "|---|---:|",
            f"| training loss (last logged) | {tr['train_loss_last']:.4f} |"
            if tr.get("train_loss_last") is not None
            else "",
            f"| evaluation MLM loss | {m['loss']:.4f} |",
            f"| evaluation perplexity | {m['perplexity']:.1f} |",
            "",
            *usage(name, "AutoModelForMaskedLM"),
        ]
        return lines


def run_pretrain(cfg: PretrainConfig, *, callbacks=None) -> dict:
    from transformers import AutoConfig, AutoModelForMaskedLM, Trainer, set_seed

    from lamina.eval.timing import parameter_count
    from lamina.models.card import write_card
    from lamina.models.layerdrop import apply_layerdrop
    from lamina.models.loading import load_tokenizer
    from lamina.models.width import model_shape
    from lamina.results import new_record
    from lamina.tasks import get_task
    from lamina.tasks.objectives import PrepSettings, objective_for
    from lamina.training.arguments import training_arguments
    from lamina.training.finish import finish_run, train_and_evaluate, training_summary
    from lamina.training.workdir import prepare_work_dir

    task = get_task("mlm", **cfg.corpus_options())
    objective = objective_for(task)
    tokenizer = load_tokenizer(cfg.tokenizer)
    work, checkpoint = prepare_work_dir(cfg)
    record = new_record(
        "pretrain", model=f"{cfg.model_type} from scratch", task=task.name, config=cfg.model_dump(), seed=cfg.seed
    )
    data = objective.prepare(task, None, tokenizer, PrepSettings.of(cfg))

    set_seed(cfg.seed)
    intermediate = cfg.intermediate_size or 4 * cfg.hidden_size
    config = AutoConfig.for_model(
        cfg.model_type,
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        intermediate_size=intermediate,
        max_position_embeddings=max(512, cfg.max_length + 2),
        pad_token_id=tokenizer.pad_token_id,
    )
    model = AutoModelForMaskedLM.from_config(config)
    layerdrop = apply_layerdrop(model, cfg.layerdrop, seed=cfg.seed)

    args = training_arguments(cfg, work, num_examples=len(data.train), **objective.trainer_settings(task))
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=data.train,
        eval_dataset=data.evals["dev"],
        processing_class=tokenizer,
        data_collator=data.collator,
        callbacks=callbacks,
    )
    train_output, metrics = train_and_evaluate(
        trainer, cfg=cfg, checkpoint=checkpoint, layerdrop=layerdrop, task=task, objective=objective, data=data
    )
    record["metrics"] = metrics
    train, evaluation = data.train, data.evals["dev"]
    record["training"] = {
        **training_summary(trainer, train_output, metrics, checkpoint),
        "train_blocks": len(train),
        "eval_blocks": len(evaluation),
    }
    record["sizes"] = {"layers": cfg.num_layers, "parameters": parameter_count(model), "shape": model_shape(model)}
    record["pretrain"] = {
        "model_type": cfg.model_type,
        "hidden": cfg.hidden_size,
        "heads": cfg.num_heads,
        "intermediate": intermediate,
        "vocab_size": len(tokenizer),
        "block_size": len(train[0]["input_ids"]),
        "train_blocks": len(train),
        "eval_blocks": len(evaluation),
        "eval_source": data.info["eval_source"],
        "eval_mask_seed": cfg.seed,
    }
    finish_run(
        cfg,
        work,
        record,
        save=lambda tmp: trainer.save_model(str(tmp)),
        main_process=trainer.is_world_process_zero(),
        card=lambda tmp: write_card(tmp, record, name=Path(cfg.output).name),
    )
    return record
