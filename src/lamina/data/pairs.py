"""Encode source → target pairs for training and scoring generation models.

Encoder-decoders: ``input_ids`` from the source, ``labels`` from the target (ending with the
end-of-sequence token), decoder inputs the labels shifted right after the decoder start token.
Decoder-only models: one sequence ``source ids + target ids`` with the source's positions
masked from the loss (label -100), so the model learns the target given the prompt.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lamina.errors import LaminaError


def encode_pairs(
    dataset, tokenizer, *, max_length: int, max_target_length: int, decoder_only: bool, targets: str = "target"
):
    """Tokenized pairs (``input_ids``, ``attention_mask``, ``labels``); the ``source`` and target
    columns are dropped. Sources are cut at ``max_length`` tokens, targets at ``max_target_length``."""
    if tokenizer is None:
        raise LaminaError("this model has no tokenizer: save one in the model folder")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token

    def fn(batch):
        src = tokenizer(batch["source"], truncation=True, max_length=max_length)["input_ids"]
        tgt = tokenizer(text_target=batch[targets], truncation=True, max_length=max_target_length)["input_ids"]
        if not decoder_only:
            return {"input_ids": src, "attention_mask": [[1] * len(s) for s in src], "labels": tgt}
        ids = [s + t for s, t in zip(src, tgt)]
        return {
            "input_ids": ids,
            "attention_mask": [[1] * len(i) for i in ids],
            "labels": [[-100] * len(s) + t for s, t in zip(src, tgt)],
        }

    drop = [c for c in dataset.column_names if c not in ("idx",)]
    return dataset.map(fn, batched=True, remove_columns=drop, desc="tokenizing pairs")


def shift_right(labels: torch.Tensor, start_id: int, pad_id: int) -> torch.Tensor:
    """Decoder inputs from labels: the start token, then the labels but the last (-100 → pad)."""
    out = labels.new_full(labels.shape, pad_id)
    out[:, 1:] = labels[:, :-1]
    out[:, 0] = start_id
    return out.masked_fill(out == -100, pad_id)


@dataclass
class PairCollator:
    """Pads a batch of encoded pairs (``transformers.DataCollatorForSeq2Seq``: inputs with the
    pad token, labels with -100), on the right; for encoder-decoders adds ``decoder_input_ids``.
    Other columns (``idx`` for distillation) pass through."""

    tokenizer: object
    decoder_start_token_id: int | None = None  # None: decoder-only

    def __call__(self, features):
        from transformers import DataCollatorForSeq2Seq

        features = [dict(f) for f in features]
        extra = {
            k: [f.pop(k) for f in features]
            for k in list(features[0])
            if k not in ("input_ids", "attention_mask", "labels")
        }
        batch = DataCollatorForSeq2Seq(self.tokenizer, label_pad_token_id=-100, return_tensors="pt")(features)
        if self.decoder_start_token_id is not None:
            batch["decoder_input_ids"] = shift_right(
                batch["labels"], self.decoder_start_token_id, self.tokenizer.pad_token_id
            )
        for k, v in extra.items():
            batch[k] = torch.tensor(v) if isinstance(v[0], (int, float)) else v
        return batch
