"""Plain-text corpora for masked-LM pretraining and MLM distillation.

Lines are tokenized (each with the tokenizer's special tokens), concatenated and cut into
blocks of ``block_size`` tokens, as Hugging Face's ``run_mlm.py`` does without
``--line_by_line``. Evaluation sets are masked once, from a seed, so every model and every
depth is scored on the very same masked tokens.
"""

from __future__ import annotations

from pathlib import Path

from lamina.data.encode import first, subset
from lamina.errors import LaminaError


def read_corpus(files: list[str] | str) -> list[str]:
    """Non-empty lines of one or more UTF-8 text files."""
    files = [files] if isinstance(files, str) else list(files)
    if not files:
        raise LaminaError("give a text corpus with --corpus FILE")
    lines: list[str] = []
    for f in files:
        path = Path(f).expanduser()
        if not path.is_file():
            raise LaminaError(f"corpus file not found: {path}")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise LaminaError(f"{path} is not UTF-8 text") from None
        lines += [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise LaminaError(f"the corpus ({', '.join(map(str, files))}) has no text")
    return lines


def corpus_blocks(lines: list[str], tokenizer, block_size: int, *, masked: bool = True):
    """A ``datasets.Dataset`` of equal-length blocks (``input_ids``, ``attention_mask``,
    ``special_tokens_mask``); a corpus shorter than one block gives one shorter block.
    ``masked``: the blocks are for masked-LM training, so the tokenizer needs a mask token."""
    from datasets import Dataset

    if tokenizer is None:
        raise LaminaError("the tokenizer is missing: pass --tokenizer (a model folder or alias with one)")
    if masked and tokenizer.mask_token is None:
        raise LaminaError("this tokenizer has no mask token: masked-LM training needs one (use a BERT-style tokenizer)")
    enc = tokenizer(
        lines, return_special_tokens_mask=True, return_attention_mask=False, truncation=False, verbose=False
    )
    ids = [t for seq in enc["input_ids"] for t in seq]
    special = [t for seq in enc["special_tokens_mask"] for t in seq]
    size = min(block_size, len(ids))
    n = len(ids) // size
    blocks = {
        "input_ids": [ids[i * size : (i + 1) * size] for i in range(n)],
        "special_tokens_mask": [special[i * size : (i + 1) * size] for i in range(n)],
    }
    blocks["attention_mask"] = [[1] * size for _ in range(n)]
    return Dataset.from_dict(blocks)


def mlm_collator(tokenizer, mlm_probability: float = 0.15, seed: int | None = None):
    """The standard BERT masking: 15% of tokens chosen; of those 80% [MASK], 10% random, 10% kept."""
    from transformers import DataCollatorForLanguageModeling

    return DataCollatorForLanguageModeling(tokenizer, mlm=True, mlm_probability=mlm_probability, seed=seed)


def masked_once(blocks, tokenizer, *, mlm_probability: float = 0.15, seed: int = 0, batch_size: int = 256):
    """The blocks with masking applied once from ``seed``: ``input_ids``, ``attention_mask``,
    ``labels`` (-100 where nothing is masked). Deterministic: a fixed evaluation set."""
    from datasets import Dataset

    collate = mlm_collator(tokenizer, mlm_probability, seed=seed)
    out = {"input_ids": [], "attention_mask": [], "labels": []}
    rows = blocks.remove_columns([c for c in blocks.column_names if c not in ("input_ids", "special_tokens_mask")])
    for start in range(0, len(rows), batch_size):
        batch = collate([rows[i] for i in range(start, min(start + batch_size, len(rows)))])
        out["input_ids"] += batch["input_ids"].tolist()
        out["labels"] += batch["labels"].tolist()
        out["attention_mask"] += [[1] * batch["input_ids"].shape[1]] * batch["input_ids"].shape[0]
    return Dataset.from_dict(out)


def masked_eval_blocks(
    files, tokenizer, block_size: int, *, max_blocks: int | None = None, mlm_probability: float = 0.15, seed: int = 0
):
    """The first ``max_blocks`` blocks of text files, masked once from ``seed``: the fixed
    evaluation set of ``lamina pretrain``, ``distill --task mlm`` and ``eval --task mlm``."""
    blocks = corpus_blocks(read_corpus(files), tokenizer, block_size)
    return masked_blocks(blocks, tokenizer, max_blocks=max_blocks, mlm_probability=mlm_probability, seed=seed)


def masked_blocks(blocks, tokenizer, *, max_blocks: int | None = None, mlm_probability: float = 0.15, seed: int = 0):
    """The first ``max_blocks`` of ``blocks`` (all when None), masked once from ``seed``."""
    return masked_once(first(blocks, max_blocks), tokenizer, mlm_probability=mlm_probability, seed=seed)


def split_for_eval(blocks, fraction: float = 0.05, seed: int = 0):
    """Hold out a fraction of the blocks (at least one) when no evaluation corpus is given."""
    if len(blocks) < 2:
        raise LaminaError("the corpus is too short to hold out an evaluation part: pass --eval-corpus")
    n_eval = max(1, int(round(fraction * len(blocks))))
    parts = blocks.train_test_split(test_size=n_eval, seed=seed, shuffle=True)
    return parts["train"], parts["test"]


def mlm_datasets(
    tokenizer,
    corpus,
    eval_corpus,
    *,
    block_size: int,
    mlm_probability: float,
    eval_fraction: float,
    seed: int,
    max_train_samples: int | None = None,
    max_eval_samples: int | None = None,
):
    """Training blocks (masked afresh each step by the collator) and a fixed masked
    evaluation set; also says where the evaluation text came from."""
    train = corpus_blocks(read_corpus(corpus), tokenizer, block_size)
    masking = dict(max_blocks=max_eval_samples, mlm_probability=mlm_probability, seed=seed)
    if eval_corpus:
        evaluation = masked_eval_blocks(eval_corpus, tokenizer, block_size, **masking)
        source = ", ".join(f"`{c}`" for c in eval_corpus)
    else:
        train, held = split_for_eval(train, eval_fraction, seed=seed)
        evaluation = masked_blocks(held, tokenizer, **masking)
        source = f"{eval_fraction:.0%} of the training blocks held out"
    train = subset(train, max_train_samples, seed, stratify=False)
    return train, evaluation, source


# ---------------------------------------------------------------- causal language modelling


def lm_blocks(blocks, max_blocks: int | None = None):
    """Blocks for causal LM: ``input_ids``, ``attention_mask`` and ``labels`` (the inputs
    themselves; the model shifts them), the first ``max_blocks`` when given."""
    rows = first(blocks, max_blocks).select_columns(["input_ids", "attention_mask"])
    return rows.add_column("labels", list(rows["input_ids"]))


def lm_eval_blocks(files, tokenizer, block_size: int, *, max_blocks: int | None = None):
    """The first ``max_blocks`` blocks of text files: the fixed causal-LM evaluation set."""
    return lm_blocks(corpus_blocks(read_corpus(files), tokenizer, block_size, masked=False), max_blocks)


def lm_datasets(
    tokenizer,
    corpus,
    eval_corpus,
    *,
    block_size: int,
    eval_fraction: float,
    seed: int,
    max_train_samples: int | None = None,
    max_eval_samples: int | None = None,
):
    """Causal-LM training blocks and a fixed evaluation set (``--eval-corpus``, or a held-out
    share of the corpus); also says where the evaluation text came from."""
    train = corpus_blocks(read_corpus(corpus), tokenizer, block_size, masked=False)
    if eval_corpus:
        evaluation = lm_eval_blocks(eval_corpus, tokenizer, block_size, max_blocks=max_eval_samples)
        source = ", ".join(f"`{c}`" for c in eval_corpus)
    else:
        train, held = split_for_eval(train, eval_fraction, seed=seed)
        evaluation = lm_blocks(held, max_eval_samples)
        source = f"{eval_fraction:.0%} of the training blocks held out"
    train = lm_blocks(subset(train, max_train_samples, seed, stratify=False))
    return train, evaluation, source
