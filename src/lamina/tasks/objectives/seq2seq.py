"""Source → target generation (multi30k, bbc-headline, pairs): encoder-decoders and decoder-only models.

Nothing is kept on the objective: what a run's evaluation needs (the references, the model's
decoder start, lengths and batch) is returned by ``prepare`` in :attr:`Prepared.state`, and a
scorer keeps its own in its closure, so two instances (a teacher's, a student's) never mix.
"""

from __future__ import annotations

from lamina.tasks.objectives.base import Objective, Prepared, register_objective, trained_model


def decoder_start(model) -> int | None:
    """The decoder start token of an encoder-decoder ``model``; ``None`` for a decoder-only one
    (whose rows are prompt + target with the prompt masked from the loss)."""
    if not getattr(model.config, "is_encoder_decoder", False):
        return None
    start = model.config.decoder_start_token_id
    if start is None:
        start = getattr(model.generation_config, "decoder_start_token_id", None)
    return model.config.pad_token_id if start is None else start


@register_objective("seq2seq")
class Seq2Seq(Objective):
    """Source → target generation: encoder-decoders train on the pairs, decoder-only models on
    prompt + target with the prompt masked from the loss; scored by corpus BLEU and chrF of
    greedy (and beam) decoding, and the loss and perplexity of the references."""

    capabilities = frozenset({"text", "tokens", "generates", "pairs"})
    cache_off_reason = (
        "token-level logits over the vocabulary (tokens × vocabulary per block) are computed online "
        "(--cache-top-k K caches the teacher's top K tokens instead)"
    )
    caches_top_k = True
    auto_class = "AutoModelForSeq2SeqLM"
    loss_only = True  # training-time evaluation: the loss of the references (generation at the end)

    def auto_class_for(self, model) -> str:
        return "AutoModelForSeq2SeqLM" if getattr(model.config, "is_encoder_decoder", False) else "AutoModelForCausalLM"

    def load_model(self, spec, task, *, train):
        from lamina.models.loading import load_generator

        return load_generator(spec, train=train)

    def model_from_config(self, config, task):
        from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

        from lamina.errors import LaminaError
        from lamina.models.adapters import get_adapter

        if getattr(config, "is_encoder_decoder", False):
            return AutoModelForSeq2SeqLM.from_config(config)
        if not get_adapter(config).causal:
            raise LaminaError(
                f"a seq2seq task needs an encoder-decoder or a decoder-only config, not '{config.model_type}'"
            )
        return AutoModelForCausalLM.from_config(config)

    def trainer_settings(self, task):
        # The final model, not the checkpoint with the lowest loss of the references: sequence-level
        # KD trades the references' perplexity for BLEU (Kim & Rush: Seq-KD's perplexity goes up while
        # its BLEU rises), so selecting by that loss kept 1- or 2-epoch Seq-KD / Seq-Inter students in
        # the P6 run (BLEU 0.6 instead of the final model's). Selecting by BLEU would decode the dev
        # set at every evaluation.
        return {
            "metric_for_best_model": "loss",
            "greater_is_better": False,
            "prediction_loss_only": True,
            "load_best_model_at_end": False,
        }

    @staticmethod
    def _encode(data, tokenizer, max_length, task, start):
        from lamina.data.pairs import encode_pairs

        return encode_pairs(
            data, tokenizer, max_length=max_length, max_target_length=task.max_new_tokens, decoder_only=start is None
        )

    @staticmethod
    def check_positions(config, tokenizer, max_length: int, task) -> None:
        """Refuse lengths beyond the model's positions (a decoder-only model reads prompt + target)."""
        from lamina.data.encode import max_positions
        from lamina.errors import LaminaError

        limit = max_positions(config, tokenizer)
        if not getattr(config, "is_encoder_decoder", False) and max_length + task.max_new_tokens > limit:
            raise LaminaError(
                f"a prompt of up to --max-length {max_length} tokens plus --max-new-tokens "
                f"{task.max_new_tokens} is beyond the model's {limit} positions"
            )
        if max(max_length, task.max_new_tokens) > limit:
            raise LaminaError(
                f"--max-length {max_length} / --max-new-tokens {task.max_new_tokens} is beyond "
                f"the model's {limit} positions"
            )

    @staticmethod
    def _collator(tokenizer, start):
        from lamina.data.pairs import PairCollator

        return PairCollator(tokenizer, start)

    def prepare(self, task, raw, tokenizer, settings, *, model=None) -> Prepared:
        from lamina.data.encode import subset
        from lamina.errors import LaminaError

        if model is None:
            raise LaminaError("internal: a seq2seq run's data is encoded for its model (prepare(..., model=))")
        self.check_positions(model.config, tokenizer, settings.max_length, task)
        self._check_beam_targets(task)
        start = decoder_start(model)
        train = subset(raw["train"], settings.max_train_samples, settings.seed, stratify=False)
        evals = {s: subset(raw[s], settings.max_eval_samples, settings.seed, stratify=False) for s in task.eval_splits}
        state = {
            "references": {s: (list(d["source"]), list(d["target"])) for s, d in evals.items()},
            "start": start,
            "max_length": settings.max_length,
            "batch_size": settings.eval_batch_size,
        }
        return Prepared(
            train=self._encode(train, tokenizer, settings.max_length, task, start),
            evals={s: self._encode(d, tokenizer, settings.max_length, task, start) for s, d in evals.items()},
            collator=self._collator(tokenizer, start),
            raw_train=raw["train"].rename_column("source", "text"),
            train_rows=train,
            state=state,
        )

    def _scores(self, model, tokenizer, task, split, encoded, state: dict) -> dict:
        """Generation scores of the split, and the references' loss and perplexity token-weighted over
        the split (``token_loss``: the same at training time and in ``lamina eval``, whatever the
        batching; the Trainer's eval_loss, a mean of batch means, stays for checkpoint selection)."""
        from lamina.eval.generation import generation_scores
        from lamina.eval.scoring import token_loss

        sources, targets = state["references"][split]
        metrics = generation_scores(
            model,
            tokenizer,
            sources,
            targets,
            num_beams=task.num_beams,
            max_new_tokens=task.max_new_tokens,
            max_length=state["max_length"],
            batch_size=state["batch_size"],
        )
        metrics.update(
            token_loss(model, encoded, self._collator(tokenizer, state["start"]), batch_size=state["batch_size"])
        )
        if task.beam_targets:
            metrics.update(self._teacher_beam_scores(model, tokenizer, task, split, state))
        return metrics

    @staticmethod
    def _check_beam_targets(task) -> None:
        """Fail before any training or scoring when ``--beam-targets`` is not a complete targets folder."""
        from lamina.data.targets import read_targets

        if task.beam_targets:
            read_targets(task.beam_targets)

    def _teacher_beam_scores(self, model, tokenizer, task, split, state: dict) -> dict:
        """Seed 001's p(ŷ): the mean over sentences of the probability the model gives the teacher's
        beam output ŷ for the split's sources (``--beam-targets``, a generate-targets folder), and the
        mean negative log-probability of ŷ (nats per sentence)."""
        import math

        import datasets

        from lamina.data.targets import read_targets
        from lamina.errors import LaminaError
        from lamina.eval.scoring import sequence_log_probs

        rows, _ = read_targets(task.beam_targets)
        output = {r["source"]: r["nbest"][0] for r in rows}
        sources = state["references"][split][0]
        missing = sum(s not in output for s in sources)
        if missing:
            raise LaminaError(
                f"--beam-targets {task.beam_targets}: {missing} of the {len(sources)} {split} sources "
                f"were not decoded there (make it with `lamina generate-targets --split {split}`)"
            )
        pairs = datasets.Dataset.from_dict({"source": sources, "target": [output[s] for s in sources]})
        encoded = self._encode(pairs, tokenizer, state["max_length"], task, state["start"])
        logp = sequence_log_probs(
            model, encoded, self._collator(tokenizer, state["start"]), batch_size=state["batch_size"]
        )
        return {
            "p_teacher_beam": sum(math.exp(v) for v in logp) / len(logp),
            "nll_teacher_beam": -sum(logp) / len(logp),
        }

    def scorer(self, task, tokenizer, settings, record):
        from lamina.data.encode import subset
        from lamina.errors import LaminaError

        split = {"dev": "dev", "train": "train"}.get(settings.split)
        if split is None:
            raise LaminaError(f"--split must be dev or train, not '{settings.split}'")
        self._check_beam_targets(task)
        data = subset(task.load(settings.data_dir)[split], settings.max_samples, settings.seed, stratify=False)
        references = {split: (list(data["source"]), list(data["target"]))}
        record["examples"] = {split: len(data)}

        def score(model):
            self.check_positions(model.config, tokenizer, settings.max_length, task)
            state = {
                "references": references,
                "start": decoder_start(model),
                "max_length": settings.max_length,
                "batch_size": settings.batch_size,
            }
            encoded = self._encode(data, tokenizer, settings.max_length, task, state["start"])
            return self._scores(model, tokenizer, task, split, encoded, state)

        return score

    def evaluate(self, task, trainer, data):
        return self._scores(
            trained_model(trainer), trainer.processing_class, task, "dev", data.evals["dev"], data.state
        )
