"""A byte-level BPE tokenizer trained on a task's own training text (``tokenizers``), for
models trained from a config where no pretrained tokenizer fits (a seq2seq teacher on
Multi30k, a tiny test decoder). Saved and reloaded as a plain HF ``PreTrainedTokenizerFast``."""

from __future__ import annotations

from collections.abc import Iterable

from lamina.errors import LaminaError

SPECIALS = {"pad_token": "<pad>", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}


def train_bpe(texts: Iterable[str], *, vocab_size: int = 8000, min_frequency: int = 2, max_length: int = 1024):
    """A byte-level BPE tokenizer learned from ``texts``: ids 0..3 are ``<pad> <s> </s> <unk>``,
    every encoded text ends with ``</s>`` (the end a generating model learns to stop at)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    texts = [t for t in texts if t and t.strip()]
    if not texts:
        raise LaminaError("no text to train a tokenizer on")
    if vocab_size < 300:
        raise LaminaError(
            f"a byte-level BPE vocabulary needs at least 300 tokens (256 bytes + merges), not {vocab_size}"
        )
    tok = Tokenizer(models.BPE(unk_token=SPECIALS["unk_token"]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIALS.values()),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    eos = SPECIALS["eos_token"]
    tok.post_processor = processors.TemplateProcessing(
        single=f"$A {eos}", pair=f"$A {eos} $B {eos}", special_tokens=[(eos, tok.token_to_id(eos))]
    )
    return PreTrainedTokenizerFast(tokenizer_object=tok, model_max_length=max_length, **SPECIALS)
