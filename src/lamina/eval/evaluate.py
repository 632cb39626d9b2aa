"""``lamina eval``: task metrics plus size and CPU speed of a fine-tuned model."""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path

from lamina.results import finish_record, new_record

DEFAULT_SPEED_BATCHES = (1, 8, 32)


@contextmanager
def _scoring_trainer(model, tokenizer, collator, *, batch_size: int, **settings):
    """An HF Trainer that only evaluates (no output folder kept, no logging)."""
    import torch
    from transformers import Trainer, TrainingArguments

    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(
            output_dir=tmp, per_device_eval_batch_size=batch_size, report_to=[], disable_tqdm=True,
            dataloader_pin_memory=torch.cuda.is_available(), **settings,
        )
        yield Trainer(model=model, args=args, processing_class=tokenizer, data_collator=collator)


def predict(model, tokenizer, dataset, *, batch_size: int = 64):
    """Raw model outputs (logits) for an encoded dataset, through HF Trainer."""
    from transformers import DataCollatorWithPadding

    with _scoring_trainer(model, tokenizer, DataCollatorWithPadding(tokenizer), batch_size=batch_size) as trainer:
        out = trainer.predict(dataset)
    preds = out.predictions[0] if isinstance(out.predictions, tuple) else out.predictions
    return preds, out.label_ids


def mlm_eval_loss(model, tokenizer, dataset, *, batch_size: int = 32) -> dict:
    """MLM loss and perplexity of ``model`` on a masked-once dataset, through HF Trainer
    (the same number ``lamina pretrain`` and ``lamina distill --task mlm`` report)."""
    from transformers import PrinterCallback, default_data_collator

    from lamina.training.pretrain import mlm_metrics

    with _scoring_trainer(model, tokenizer, default_data_collator, batch_size=batch_size,
                          prediction_loss_only=True) as trainer:
        trainer.remove_callback(PrinterCallback)  # no metrics dict printed to the terminal
        return mlm_metrics(trainer.evaluate(dataset))


def _scorer(task, model, tokenizer, *, split, data_dir, max_length, batch_size, max_samples, corpus, mask_seed,
            record):
    """A function model → metrics for the chosen data, with the data read and encoded once."""
    from lamina.data.encode import encode
    from lamina.errors import LaminaError
    from lamina.eval.metrics import compute_metrics
    from lamina.tasks.mlm import is_mlm
    from lamina.training.finetune import subset

    if is_mlm(task):
        from lamina.data.corpus import masked_eval_blocks

        masked = masked_eval_blocks(corpus, tokenizer, max_length, max_blocks=max_samples, seed=mask_seed)
        record["examples"] = {"blocks": len(masked)}
        return lambda m: mlm_eval_loss(m, tokenizer, masked, batch_size=batch_size)

    splits = {"dev": task.eval_splits, "train": ("train",)}.get(split)
    if splits is None:
        raise LaminaError(f"--split must be dev or train, not '{split}'")
    data = task.load(data_dir)
    encoded = {}
    for s in splits:
        ds = subset(data[s], max_samples, 0, shuffle=False)  # the first N examples
        encoded[s] = encode(ds, tokenizer, max_length)
        record.setdefault("examples", {})[s] = len(ds)

    def score(m) -> dict:
        metrics = {}
        for s, enc in encoded.items():
            outputs, labels = predict(m, tokenizer, enc, batch_size=batch_size)
            values = compute_metrics(task, outputs, labels)
            if s == "dev_mismatched":
                metrics["mismatched_accuracy"] = values["accuracy"]
            else:
                metrics.update(values)
        return metrics

    return score


def _speeds(model, *, max_length, speed_seq_len, speed_batch_sizes, threads) -> dict:
    from lamina.eval.timing import measure_throughput

    seq = min(speed_seq_len, max_length)
    per_batch = {}
    for bs in speed_batch_sizes:
        r = measure_throughput(model, batch_size=bs, seq_len=seq, threads=threads)
        per_batch[str(bs)] = {"seconds_per_batch": r["seconds_per_batch"], "samples_per_second": r["samples_per_second"]}
    largest = per_batch[str(max(speed_batch_sizes))]
    return {
        "seq_len": seq,
        "threads": r["threads"],
        "repeats": r["repeats"],
        "per_batch_size": per_batch,
        "latency_ms_batch1": 1000 * per_batch["1"]["seconds_per_batch"] if "1" in per_batch else None,
        "samples_per_second": largest["samples_per_second"],
        "samples_per_second_batch_size": max(speed_batch_sizes),
    }


def run_eval(
    model_spec: str,
    task_name: str,
    *,
    split: str = "dev",
    data_dir: str | None = None,
    max_length: int = 128,
    batch_size: int = 64,
    max_samples: int | None = None,
    speed: bool = True,
    speed_batch_sizes=DEFAULT_SPEED_BATCHES,
    speed_seq_len: int = 128,
    threads: int | None = None,
    task_options: dict | None = None,
    depths: list[int] | None = None,
    strategy: str = "alternate",
    corpus: list[str] | None = None,
    mask_seed: int = 42,
) -> dict:
    """Score a model on a task (or, with ``task_name='mlm'``, its MLM loss on ``corpus``).

    ``depths``: also score copies pruned to each of these layer counts by ``strategy``,
    without any retraining (prune-on-demand, e.g. of a LayerDrop-trained model)."""
    from lamina.data.encode import check_max_length
    from lamina.errors import LaminaError
    from lamina.eval.timing import parameter_count, weights_size_bytes
    from lamina.models.adapters import get_adapter
    from lamina.models.loading import load_for_classification, load_masked_lm
    from lamina.models.surgery import drop_layers
    from lamina.strategies import get_strategy, select_layers
    from lamina.tasks import get_task
    from lamina.tasks.mlm import MLM_TASK_NAME, MaskedLMTask

    mlm = task_name == MLM_TASK_NAME
    if mlm and not corpus:
        raise LaminaError("--task mlm scores a masked LM on text: give --corpus FILE")
    task = MaskedLMTask(corpus=tuple(corpus)) if mlm else get_task(task_name, **(task_options or {}))
    record = new_record(
        "eval",
        model=model_spec,
        task=task.name,
        config={"split": split, "max_length": max_length, "batch_size": batch_size, "max_samples": max_samples,
                "depths": depths, "strategy": strategy if depths else None, "corpus": corpus},
    )
    model, tokenizer, source = load_masked_lm(model_spec) if mlm else load_for_classification(model_spec, task, train=False)
    check_max_length(max_length, model.config, tokenizer)
    model.eval()
    score = _scorer(task, model, tokenizer, split=split, data_dir=data_dir, max_length=max_length,
                    batch_size=batch_size, max_samples=max_samples, corpus=corpus, mask_seed=mask_seed, record=record)
    n = get_adapter(model).num_layers(model.config)
    record["metrics"] = score(model)
    record["sizes"] = {
        "layers": n,
        "parameters": parameter_count(model),
        "bytes": weights_size_bytes(source) if Path(source).is_dir() else None,
    }
    speed_opts = dict(max_length=max_length, speed_seq_len=speed_seq_len, speed_batch_sizes=speed_batch_sizes,
                      threads=threads)
    if speed:
        record["speeds"] = _speeds(model, **speed_opts)
    if depths:
        chosen = get_strategy(strategy)
        if chosen.needs_calibration:
            raise LaminaError(f"--depths prunes with a data-free strategy (alternate, top, bottom, symmetric), not '{strategy}'")
        rows = []
        for d in depths:
            if not 1 <= d <= n:
                raise LaminaError(f"--depths {d}: the model has {n} layers")
            kept = select_layers(chosen, n, keep=d)
            pruned = model if d == n else drop_layers(model, kept)
            row = {"layers": d, "kept_layers": kept, "metrics": score(pruned), "parameters": parameter_count(pruned)}
            if speed:
                row["speeds"] = _speeds(pruned, **speed_opts)
                row["speedup"] = row["speeds"]["samples_per_second"] / record["speeds"]["samples_per_second"]
            rows.append(row)
        record["depths"] = rows
    return finish_record(record)
