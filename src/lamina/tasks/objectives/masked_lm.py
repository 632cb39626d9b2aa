"""Masked language modelling on text blocks (``--task mlm``, ``lamina pretrain``)."""

from __future__ import annotations

from lamina.tasks.objectives.base import Prepared, TextBlocks, block_loss, register_objective


@register_objective("masked-lm")
class MaskedLM(TextBlocks):
    """Masked language modelling on text blocks; lower loss is better."""

    capabilities = frozenset({"text", "tokens", "masked"})
    cache_off_reason = "masking changes the inputs every step, so teacher outputs are computed online"
    auto_class = "AutoModelForMaskedLM"

    def load_model(self, spec, task, *, train):
        from lamina.models.loading import load_masked_lm

        return load_masked_lm(spec, train=train)

    def model_from_config(self, config, task):
        from transformers import AutoModelForMaskedLM

        return AutoModelForMaskedLM.from_config(config)

    def prepare(self, task, raw, tokenizer, settings, *, model=None) -> Prepared:
        from lamina.data.corpus import mlm_collator, mlm_datasets

        train, dev, source = mlm_datasets(
            tokenizer,
            list(task.corpus),
            list(task.eval_corpus),
            block_size=settings.max_length,
            mlm_probability=task.mlm_probability,
            eval_fraction=task.eval_fraction,
            seed=settings.seed,
            max_train_samples=settings.max_train_samples,
            max_eval_samples=settings.max_eval_samples,
        )
        return Prepared(
            train=train,
            evals={"dev": dev},
            raw_train=raw["train"] if raw is not None else None,
            collator=mlm_collator(tokenizer, task.mlm_probability, seed=settings.seed),
            info={"eval_source": source},
        )

    def scorer(self, task, tokenizer, settings, record):
        from transformers import default_data_collator

        from lamina.data.corpus import masked_eval_blocks
        from lamina.eval.scoring import token_loss

        masked = masked_eval_blocks(
            list(task.corpus),
            tokenizer,
            settings.max_length,
            max_blocks=settings.max_samples,
            mlm_probability=task.mlm_probability,
            seed=settings.seed,
        )
        record["examples"] = {"blocks": len(masked)}
        return lambda model: token_loss(
            model, masked, default_data_collator, batch_size=settings.batch_size, shift=False
        )

    def evaluate(self, task, trainer, data):
        """Token-weighted over the masked tokens of the dev blocks (their count varies per block, so the
        Trainer's eval_loss, a mean of batch means, depends on the batching; it stays for checkpoint selection)."""
        return block_loss(trainer, data.evals["dev"], shift=False)
