"""Next-token prediction on text blocks (decoder-only models; ``--task causal-lm``)."""

from __future__ import annotations

from lamina.tasks.objectives.base import Prepared, TextBlocks, block_loss, register_objective


@register_objective("causal-lm")
class CausalLM(TextBlocks):
    """Next-token prediction on text blocks (decoder-only models); loss and perplexity on a
    fixed evaluation set, lower is better."""

    capabilities = frozenset({"text", "tokens", "generates"})
    cache_off_reason = (
        "token-level logits over the vocabulary (tokens × vocabulary per block) are computed online "
        "(--cache-top-k K caches the teacher's top K tokens instead)"
    )
    caches_top_k = True
    auto_class = "AutoModelForCausalLM"

    def load_model(self, spec, task, *, train):
        from lamina.models.loading import load_causal_lm

        return load_causal_lm(spec, train=train)

    def model_from_config(self, config, task):
        from transformers import AutoModelForCausalLM

        from lamina.errors import LaminaError
        from lamina.models.adapters import get_adapter

        if getattr(config, "is_encoder_decoder", False) or not get_adapter(config).causal:
            raise LaminaError(f"a causal-LM task needs a decoder-only config, not '{config.model_type}'")
        return AutoModelForCausalLM.from_config(config)

    def prepare(self, task, raw, tokenizer, settings, *, model=None) -> Prepared:
        from transformers import default_data_collator

        from lamina.data.corpus import lm_datasets

        train, dev, source = lm_datasets(
            tokenizer,
            list(task.corpus),
            list(task.eval_corpus),
            block_size=settings.max_length,
            eval_fraction=task.eval_fraction,
            seed=settings.seed,
            max_train_samples=settings.max_train_samples,
            max_eval_samples=settings.max_eval_samples,
        )
        return Prepared(
            train=train,
            evals={"dev": dev},
            raw_train=raw["train"] if raw is not None else None,
            collator=default_data_collator,
            info={"eval_source": source},
        )

    def scorer(self, task, tokenizer, settings, record):
        from transformers import default_data_collator

        from lamina.data.corpus import lm_eval_blocks
        from lamina.eval.scoring import token_loss

        files = list(task.eval_corpus or task.corpus)
        blocks = lm_eval_blocks(files, tokenizer, settings.max_length, max_blocks=settings.max_samples)
        record["examples"] = {
            "blocks": len(blocks),
            "tokens": len(blocks) * len(blocks[0]["input_ids"]),
            "source": ", ".join(files),
        }
        return lambda model: token_loss(
            model, blocks, default_data_collator, batch_size=settings.batch_size, shift=True
        )

    def evaluate(self, task, trainer, data):
        """Token-weighted, by the function ``lamina eval`` uses (the blocks have one length, so the Trainer's
        eval_loss, a mean of batch means, is the same up to rounding)."""
        return block_loss(trainer, data.evals["dev"], shift=True)
