"""Tokenize a task dataset (``text``, optional ``text_pair``, ``label``) for a model."""

from __future__ import annotations

from lamina.errors import LaminaError


def max_positions(config, tokenizer=None) -> int:
    """The longest input the model accepts (RoBERTa-style models reserve two positions)."""
    limit = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", None) or 10**9
    if getattr(config, "model_type", "") in ("roberta", "xlm-roberta", "camembert"):
        limit -= 2
    tok_limit = getattr(tokenizer, "model_max_length", None)
    if isinstance(tok_limit, int) and 0 < tok_limit < 10**6:
        limit = min(limit, tok_limit)
    return int(limit)


def check_max_length(max_length: int, config, tokenizer=None) -> None:
    limit = max_positions(config, tokenizer)
    if max_length < 2:
        raise LaminaError(f"--max-length must be at least 2, not {max_length}")
    if max_length > limit:
        raise LaminaError(f"--max-length {max_length} is beyond the model's {limit} positions")


def encode(dataset, tokenizer, max_length: int):
    """Tokenized copy of a Dataset/DatasetDict: input ids etc. plus ``label``; no padding
    (the collator pads each batch to its own longest example)."""
    if tokenizer is None:
        raise LaminaError("this model has no tokenizer: save one in the model folder")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token

    def fn(batch):
        return tokenizer(batch["text"], batch.get("text_pair"), truncation=True, max_length=max_length)

    columns = dataset.column_names
    if isinstance(columns, dict):  # DatasetDict
        columns = next(iter(columns.values()))
    remove = [c for c in columns if c in ("text", "text_pair")]
    return dataset.map(fn, batched=True, remove_columns=remove, desc="tokenizing")
