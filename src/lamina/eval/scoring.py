"""Scoring a model: raw outputs through an evaluation-only HF Trainer; target-token log-probabilities
and the token-weighted loss and perplexity."""

from __future__ import annotations

import tempfile
from contextlib import contextmanager


@contextmanager
def scoring_trainer(model, tokenizer, collator, *, batch_size: int, **settings):
    """An HF Trainer that only evaluates (no output folder kept, no logging)."""
    import torch
    from transformers import Trainer, TrainingArguments

    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(
            output_dir=tmp,
            per_device_eval_batch_size=batch_size,
            report_to=[],
            disable_tqdm=True,
            dataloader_pin_memory=torch.cuda.is_available(),
            **settings,
        )
        yield Trainer(model=model, args=args, processing_class=tokenizer, data_collator=collator)


def predict(model, tokenizer, dataset, *, batch_size: int = 64):
    """Raw model outputs (logits) for an encoded dataset, through HF Trainer; a model that is
    not a PyTorch module (an ONNX Runtime model: ``model(**batch)`` gives numpy logits) is
    fed the same padded batches in order."""
    from torch import nn
    from transformers import DataCollatorWithPadding

    if not isinstance(model, nn.Module):
        return _predict_batches(model, DataCollatorWithPadding(tokenizer), dataset, batch_size)
    with scoring_trainer(model, tokenizer, DataCollatorWithPadding(tokenizer), batch_size=batch_size) as trainer:
        out = trainer.predict(dataset)
    preds = out.predictions[0] if isinstance(out.predictions, tuple) else out.predictions
    return preds, out.label_ids


def _predict_batches(model, collator, dataset, batch_size: int):
    import numpy as np

    outputs, labels = [], []
    columns = [c for c in dataset.column_names if c not in ("idx",)]
    for start in range(0, len(dataset), batch_size):
        rows = dataset[start : start + batch_size]
        features = [{c: rows[c][i] for c in columns} for i in range(len(rows[columns[0]]))]
        batch = collator(features)
        label = batch.pop("labels", batch.pop("label", None))
        outputs.append(model(**batch))
        if label is not None:
            labels.append(label.numpy())
    return np.concatenate(outputs), (np.concatenate(labels) if labels else None)


def sequence_log_probs(model, dataset, collator, *, batch_size: int = 32) -> list[float]:
    """Per example of an encoded pairs dataset (:func:`lamina.data.pairs.encode_pairs`), the
    summed log-probability the model gives its target tokens (the labels that are not -100),
    teacher-forced: log p(y | x) = Σ_t log p(y_t | y_<t, x). An encoder-decoder's logits line
    up with its labels; a decoder-only model's position t predicts token t + 1."""
    return [logp for logp, _ in target_log_probs(model, dataset, collator, batch_size=batch_size)]


def token_loss(model, dataset, collator, *, batch_size: int = 32, shift: bool | None = None) -> dict:
    """Loss and perplexity token-weighted over the whole dataset: total NLL of the target tokens
    (labels != -100) / their number, so the same for any batch size, order or sampler (an HF
    Trainer's eval loss is a mean of batch means, which is not when the target-token count
    varies per example: the references of pairs, the masked tokens of MLM blocks)."""
    from lamina.eval.metrics import loss_metrics

    scores = target_log_probs(model, dataset, collator, batch_size=batch_size, shift=shift)
    tokens = sum(n for _, n in scores)
    return loss_metrics(-sum(logp for logp, _ in scores) / max(tokens, 1))


def target_log_probs(
    model, dataset, collator, *, batch_size: int = 32, shift: bool | None = None
) -> list[tuple[float, int]]:
    """Per example of an encoded dataset (``input_ids``, ``attention_mask``, ``labels``), (summed
    log-probability of its target tokens, number of target tokens), as :func:`sequence_log_probs`
    computes them. ``shift``: position t predicts label t + 1 (a decoder-only model); by default
    so unless the model is an encoder-decoder. A masked LM passes ``shift=False``."""
    import torch

    decoder_only = not getattr(model.config, "is_encoder_decoder", False) if shift is None else shift
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out: list[tuple[float, int]] = []
    try:
        with torch.no_grad():
            for start in range(0, len(dataset), batch_size):
                rows = dataset[start : start + batch_size]
                batch = collator(
                    [
                        {k: rows[k][i] for k in ("input_ids", "attention_mask", "labels")}
                        for i in range(len(rows["labels"]))
                    ]
                )
                batch = {k: v.to(device) for k, v in batch.items() if torch.is_tensor(v)}
                labels = batch.pop("labels")
                logits = model(**batch).logits.float()
                if decoder_only:
                    logits, labels = logits[:, :-1], labels[:, 1:]
                mask = labels != -100
                picked = torch.log_softmax(logits, -1).gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
                out += zip((picked * mask).double().sum(-1).tolist(), mask.sum(-1).tolist())
    finally:
        model.train(was_training)
    return out
