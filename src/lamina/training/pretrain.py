"""``lamina pretrain``: a masked language model trained from scratch on plain-text files.

Seed 002 trained its teachers this way (no pretrained MLM weights were at hand): a small
BERT, masked-LM only (no next-sentence prediction), optionally with LayerDrop so that
layers can be removed afterwards. HF Trainer, the standard 15% masking, evaluation loss
and perplexity on a held-out corpus masked once from a seed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

from pydantic import Field, model_validator

from lamina.errors import LaminaError
from lamina.training.finetune import TrainSettings

# model types whose configs take BERT's field names (hidden_size, num_hidden_layers, ...)
PRETRAIN_MODEL_TYPES = ("bert", "roberta", "electra", "mpnet")


class PretrainConfig(TrainSettings):
    corpus: list[str] = Field(min_length=1)
    eval_corpus: Optional[list[str]] = None
    eval_fraction: float = Field(0.05, gt=0, lt=1)  # held out of the corpus when no eval corpus is given
    tokenizer: str = "minilm-l6"
    model_type: str = "bert"
    layers: int = Field(4, ge=1)
    hidden: int = Field(256, ge=8)
    heads: int = Field(4, ge=1)
    intermediate: Optional[int] = Field(None, ge=1)  # default 4 × hidden
    mlm_probability: float = Field(0.15, gt=0, lt=1)
    epochs: float = Field(1.0, gt=0)
    lr: float = Field(5e-4, gt=0)
    group_by_length: bool = False  # blocks all have the same length

    @model_validator(mode="after")
    def _check(self):
        if self.model_type not in PRETRAIN_MODEL_TYPES:
            raise ValueError(f"model type '{self.model_type}' is not one of {', '.join(PRETRAIN_MODEL_TYPES)}")
        if self.hidden % self.heads:
            raise ValueError(f"hidden size {self.hidden} is not divisible by {self.heads} heads")
        return self


def load_tokenizer(spec: str):
    from transformers import AutoTokenizer

    from lamina.models.loading import _first_line, resolve_model

    source = resolve_model(spec)
    try:
        return AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError, TypeError) as exc:
        raise LaminaError(f"could not load a tokenizer from '{spec}': {_first_line(exc)}") from None


def mlm_datasets(tokenizer, corpus, eval_corpus, *, block_size: int, mlm_probability: float, eval_fraction: float,
                 seed: int, max_train_samples: int | None = None, max_eval_samples: int | None = None):
    """Training blocks (masked afresh each step by the collator) and a fixed masked
    evaluation set; also says where the evaluation text came from."""
    from lamina.data.corpus import corpus_blocks, masked_blocks, masked_eval_blocks, read_corpus, split_for_eval
    from lamina.training.finetune import subset

    train = corpus_blocks(read_corpus(corpus), tokenizer, block_size)
    masking = dict(max_blocks=max_eval_samples, mlm_probability=mlm_probability, seed=seed)
    if eval_corpus:
        evaluation = masked_eval_blocks(eval_corpus, tokenizer, block_size, **masking)
        source = ", ".join(f"`{c}`" for c in eval_corpus)
    else:
        train, held = split_for_eval(train, eval_fraction, seed=seed)
        evaluation = masked_blocks(held, tokenizer, **masking)
        source = f"{eval_fraction:.0%} of the training blocks held out"
    train = subset(train, max_train_samples, seed, shuffle=True)
    return train, evaluation, source


def mlm_metrics(eval_output: dict) -> dict:
    loss = float(eval_output["eval_loss"])
    return {"loss": loss, "perplexity": math.exp(min(loss, 50.0))}


def run_pretrain(cfg: PretrainConfig, *, callbacks=None) -> dict:
    from transformers import AutoConfig, AutoModelForMaskedLM, Trainer, set_seed

    from lamina.data.corpus import mlm_collator
    from lamina.eval.timing import parameter_count
    from lamina.models.card import write_pretrain_card
    from lamina.models.layerdrop import apply_layerdrop
    from lamina.results import new_record
    from lamina.training.finetune import finish_run, training_arguments, training_summary
    from lamina.training.workdir import prepare_work_dir

    tokenizer = load_tokenizer(cfg.tokenizer)
    work, checkpoint = prepare_work_dir(cfg.output, resume=cfg.resume, overwrite=cfg.overwrite)
    record = new_record("pretrain", model=f"{cfg.model_type} from scratch", task="mlm", config=cfg.model_dump(),
                        seed=cfg.seed)
    train, evaluation, eval_source = mlm_datasets(
        tokenizer, cfg.corpus, cfg.eval_corpus, block_size=cfg.max_length, mlm_probability=cfg.mlm_probability,
        eval_fraction=cfg.eval_fraction, seed=cfg.seed, max_train_samples=cfg.max_train_samples,
        max_eval_samples=cfg.max_eval_samples)

    set_seed(cfg.seed)
    intermediate = cfg.intermediate or 4 * cfg.hidden
    config = AutoConfig.for_model(
        cfg.model_type, vocab_size=len(tokenizer), hidden_size=cfg.hidden, num_hidden_layers=cfg.layers,
        num_attention_heads=cfg.heads, intermediate_size=intermediate,
        max_position_embeddings=max(512, cfg.max_length + 2), pad_token_id=tokenizer.pad_token_id,
    )
    model = AutoModelForMaskedLM.from_config(config)
    layerdrop = apply_layerdrop(model, cfg.layerdrop, seed=cfg.seed)

    steps_per_epoch = max(1, -(-len(train) // cfg.batch_size))
    args = training_arguments(cfg, work, main_metric="loss", steps_per_epoch=steps_per_epoch, greater_is_better=False,
                              prediction_loss_only=True)
    trainer = Trainer(
        model=model, args=args, train_dataset=train, eval_dataset=evaluation,
        processing_class=tokenizer, data_collator=mlm_collator(tokenizer, cfg.mlm_probability, seed=cfg.seed),
        callbacks=callbacks,
    )
    train_output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    if layerdrop is not None:
        layerdrop.remove()
    metrics = mlm_metrics(trainer.evaluate())
    record["metrics"] = metrics
    record["training"] = {**training_summary(trainer, train_output, {"loss": metrics["loss"]}, checkpoint),
                          "train_blocks": len(train), "eval_blocks": len(evaluation)}
    record["sizes"] = {"layers": cfg.layers, "parameters": parameter_count(model)}
    record["pretrain"] = {
        "model_type": cfg.model_type, "hidden": cfg.hidden, "heads": cfg.heads, "intermediate": intermediate,
        "vocab_size": len(tokenizer), "block_size": len(train[0]["input_ids"]), "train_blocks": len(train),
        "eval_blocks": len(evaluation), "eval_source": eval_source, "eval_mask_seed": cfg.seed,
    }

    def save(tmp):
        trainer.save_model(str(tmp))

    finish_run(cfg, work, record, save=save, main_process=trainer.is_world_process_zero(),
               card=lambda tmp: write_pretrain_card(tmp, record, name=Path(cfg.output).name))
    return record
