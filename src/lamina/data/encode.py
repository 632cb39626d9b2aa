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
    ensure_pad_token(tokenizer)

    def fn(batch):
        return tokenizer(batch["text"], batch.get("text_pair"), truncation=True, max_length=max_length)

    columns = dataset.column_names
    if isinstance(columns, dict):  # DatasetDict
        columns = next(iter(columns.values()))
    remove = [c for c in columns if c in ("text", "text_pair")]
    return dataset.map(fn, batched=True, remove_columns=remove, desc="tokenizing")


def subset(ds, n: int | None, seed: int, *, stratify: bool = True):
    """A seeded sample of ``n`` examples (all of them when ``n`` is None or not smaller).

    With ``stratify`` and an integer ``label`` column (a classification task) the sample keeps
    the label proportions (scikit-learn's stratified split), so a small evaluation subset of a
    dev set ordered by label still holds every class; otherwise it is a seeded shuffle."""
    if n is None or n >= len(ds):
        return ds
    if stratify and "label" in ds.column_names:
        import numpy as np
        from sklearn.model_selection import train_test_split

        labels = np.asarray(ds["label"])
        if labels.dtype.kind in "iu":
            try:
                idx, _ = train_test_split(np.arange(len(ds)), train_size=n, random_state=seed, stratify=labels)
                return ds.select(idx.tolist())
            except ValueError:  # a class too rare to stratify on: fall back to a plain sample
                pass
    return ds.shuffle(seed=seed).select(range(n))


def first(ds, n: int | None):
    """The first ``n`` rows (all when None): fixed evaluation blocks of a text corpus."""
    return ds if n is None or n >= len(ds) else ds.select(range(n))


def ensure_pad_token(tokenizer) -> None:
    """Decoder tokenizers often have no padding token: pad with end-of-sequence."""
    if tokenizer is not None and tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token


def padding_collator(tokenizer, *, pad_to_max_length: bool = False, max_length: int | None = None):
    """Dynamic padding (each batch to its longest example), or fixed ``max_length``."""
    from transformers import DataCollatorWithPadding

    if pad_to_max_length:
        return DataCollatorWithPadding(tokenizer, padding="max_length", max_length=max_length)
    return DataCollatorWithPadding(tokenizer)
