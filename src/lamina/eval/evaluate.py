"""``lamina eval``: task metrics plus size and CPU speed of a fine-tuned model."""

from __future__ import annotations

import tempfile
from pathlib import Path

from lamina.results import finish_record, new_record

DEFAULT_SPEED_BATCHES = (1, 8, 32)


def predict(model, tokenizer, dataset, *, batch_size: int = 64):
    """Raw model outputs (logits) for an encoded dataset, through HF Trainer."""
    from transformers import DataCollatorWithPadding, Trainer, TrainingArguments

    with tempfile.TemporaryDirectory() as tmp:
        import torch

        args = TrainingArguments(
            output_dir=tmp, per_device_eval_batch_size=batch_size, report_to=[], disable_tqdm=True,
            dataloader_pin_memory=torch.cuda.is_available(),
        )
        trainer = Trainer(model=model, args=args, processing_class=tokenizer, data_collator=DataCollatorWithPadding(tokenizer))
        out = trainer.predict(dataset)
    preds = out.predictions[0] if isinstance(out.predictions, tuple) else out.predictions
    return preds, out.label_ids


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
) -> dict:
    from lamina.data.encode import check_max_length, encode
    from lamina.errors import LaminaError
    from lamina.eval.metrics import compute_metrics
    from lamina.eval.timing import measure_throughput, parameter_count, weights_size_bytes
    from lamina.models.adapters import get_adapter
    from lamina.models.loading import load_for_classification
    from lamina.tasks import get_task

    task = get_task(task_name, **(task_options or {}))
    record = new_record(
        "eval",
        model=model_spec,
        task=task.name,
        config={"split": split, "max_length": max_length, "batch_size": batch_size, "max_samples": max_samples},
    )
    splits = {"dev": task.eval_splits, "train": ("train",)}.get(split)
    if splits is None:
        raise LaminaError(f"--split must be dev or train, not '{split}'")
    data = task.load(data_dir)
    model, tokenizer, source = load_for_classification(model_spec, task, train=False)
    check_max_length(max_length, model.config, tokenizer)
    model.eval()
    for s in splits:
        ds = data[s] if max_samples is None else data[s].select(range(min(max_samples, len(data[s]))))
        outputs, labels = predict(model, tokenizer, encode(ds, tokenizer, max_length), batch_size=batch_size)
        metrics = compute_metrics(task, outputs, labels)
        if s == "dev_mismatched":
            record["metrics"]["mismatched_accuracy"] = metrics["accuracy"]
        else:
            record["metrics"].update(metrics)
        record.setdefault("examples", {})[s] = len(ds)
    record["sizes"] = {
        "layers": get_adapter(model).num_layers(model.config),
        "parameters": parameter_count(model),
        "bytes": weights_size_bytes(source) if Path(source).is_dir() else None,
    }
    if speed:
        seq = min(speed_seq_len, max_length)
        per_batch = {}
        for bs in speed_batch_sizes:
            r = measure_throughput(model, batch_size=bs, seq_len=seq, threads=threads)
            per_batch[str(bs)] = {"seconds_per_batch": r["seconds_per_batch"], "samples_per_second": r["samples_per_second"]}
        largest = per_batch[str(max(speed_batch_sizes))]
        record["speeds"] = {
            "seq_len": seq,
            "threads": r["threads"],
            "repeats": r["repeats"],
            "per_batch_size": per_batch,
            "latency_ms_batch1": 1000 * per_batch["1"]["seconds_per_batch"] if "1" in per_batch else None,
            "samples_per_second": largest["samples_per_second"],
            "samples_per_second_batch_size": max(speed_batch_sizes),
        }
    return finish_record(record)
