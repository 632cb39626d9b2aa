"""Image classification (flat pixel vectors into lamina's MLP): Hinton's MNIST-style tasks."""

from __future__ import annotations

from lamina.tasks.base import label_distribution
from lamina.tasks.objectives.base import Objective, Prepared, evaluate_splits, register_objective


@register_objective("image-classification")
class ImageClassification(Objective):
    """Images as flat pixel vectors (scaled to [0, 1]) into lamina's MLP; cross-entropy, scored by
    accuracy and the number of errors. The dev split of the idx tasks is the official test set,
    so no checkpoint is picked by it (the last model is kept)."""

    capabilities = frozenset({"images", "classes"})
    auto_class = "AutoModelForImageClassification"
    cache_off_reason = "image task: the (small) teachers run online, on the jittered inputs the student sees"

    def load_model(self, spec, task, *, train):
        from lamina.errors import LaminaError
        from lamina.models.loading import load_config
        from lamina.models.mlp import MLPForImageClassification, is_mlp_spec, new_mlp

        if is_mlp_spec(spec):
            if not train:
                raise LaminaError(f"'{spec}' is an untrained MLP spec: give a trained model folder")
            return (
                new_mlp(spec, input_size=task.input_size, num_labels=task.num_labels, id2label=task.id2label()),
                None,
                spec,
            )
        config, source = load_config(spec)
        if not isinstance(config, MLPForImageClassification.config_class):
            raise LaminaError(
                f"task '{task.name}' takes an MLP (a folder saved by lamina, or mlp:H1,H2), "
                f"not a {config.model_type} model"
            )
        if config.input_size != task.input_size or config.num_labels != task.num_labels:
            raise LaminaError(
                f"'{spec}' reads {config.input_size} pixels into {config.num_labels} classes; task "
                f"'{task.name}' has {task.input_size} pixels and {task.num_labels} classes"
            )
        model = MLPForImageClassification.from_pretrained(source)
        return model, None, source

    def student_config(self, spec):
        from lamina.models.mlp import MLPConfig, is_mlp_spec, parse_mlp_spec

        return MLPConfig(**parse_mlp_spec(spec)) if is_mlp_spec(spec) else None

    def model_from_config(self, config, task):
        from lamina.models.mlp import MLPForImageClassification

        config.input_size, config.num_labels = task.input_size, task.num_labels
        config.id2label = task.id2label()
        config.label2id = {v: k for k, v in task.id2label().items()}
        return MLPForImageClassification(config)

    def prepare(self, task, raw, tokenizer, settings, *, model=None) -> Prepared:
        from lamina.data.encode import subset

        def ready(ds, augment: int):
            ds = ds.rename_column("label", "labels")
            return ds.add_column("augment", [augment] * len(ds)).with_format("numpy")

        train = subset(raw["train"], settings.max_train_samples, settings.seed)
        evals = {s: subset(raw[s], settings.max_eval_samples, settings.seed) for s in task.eval_splits}
        info = {
            "eval_labels": {s: label_distribution(task, d["label"]) for s, d in evals.items()},
            "jitter": task.jitter,
            "omitted_label": task.omit_label,
        }
        return Prepared(
            train=ready(train, 1),
            evals={s: ready(d, 0) for s, d in evals.items()},
            collator=ImageCollator(task.side, task.jitter, task.max_pixel, seed=settings.seed),
            raw_train=raw["train"],
            train_rows=train,
            info=info,
        )

    def trainer_settings(self, task) -> dict:
        return {
            "metric_for_best_model": task.main_metric,
            "greater_is_better": True,
            "load_best_model_at_end": False,
            "train_sampling_strategy": "random",
            "remove_unused_columns": False,
        }

    def compute_metrics(self, task):
        from lamina.eval.metrics import trainer_metrics

        return trainer_metrics(task)

    def scorer(self, task, tokenizer, settings, record):
        import numpy as np
        import torch

        from lamina.data.encode import subset
        from lamina.errors import LaminaError
        from lamina.eval.metrics import compute_metrics

        if settings.split not in ("dev", "train"):
            raise LaminaError(f"--split must be dev or train, not '{settings.split}'")
        data = task.load(settings.data_dir)[settings.split]
        data = subset(data, settings.max_samples, settings.seed).with_format("numpy")
        record["examples"] = {settings.split: len(data)}
        record["labels_scored"] = {settings.split: label_distribution(task, data["label"])}
        pixels = torch.as_tensor(np.asarray(data["pixel_values"]), dtype=torch.float32) / task.max_pixel
        labels = np.asarray(data["label"])  # datasets' Column compares as one object, not elementwise
        bias = torch.zeros(task.num_labels)
        for key, value in (settings.logit_bias or {}).items():
            try:
                k, v = int(key), float(value)
            except (TypeError, ValueError):
                raise LaminaError(f"--logit-bias takes LABEL=VALUE with an integer label, not {key}={value}") from None
            if not 0 <= k < task.num_labels:
                raise LaminaError(f"--logit-bias {k}: task '{task.name}' has labels 0..{task.num_labels - 1}")
            bias[k] = v
        record["logit_bias"] = {str(i): float(b) for i, b in enumerate(bias) if b}

        def score(model) -> dict:
            model.eval()
            with torch.no_grad():
                logits = torch.cat([model(pixel_values=b).logits for b in pixels.split(settings.batch_size)]) + bias
            wrong = logits.argmax(-1).numpy() != labels
            record["class_errors"] = {task.labels[i]: int(wrong[labels == i].sum()) for i in range(task.num_labels)}
            return compute_metrics(task, logits.numpy(), labels)

        return score

    def evaluate(self, task, trainer, data):
        return evaluate_splits(task, trainer, data.evals)


class ImageCollator:
    """Stacks flat uint8 images into float ``pixel_values`` in [0, 1]; rows marked ``augment``
    (the training set) are shifted by up to ``jitter`` pixels each way (zeros fill in), a fresh
    draw every time from a generator seeded once."""

    def __init__(self, side: int, jitter: int = 0, max_pixel: float = 255.0, *, seed: int = 0):
        import torch

        self.side, self.jitter, self.max_pixel = side, int(jitter), max_pixel
        self.generator = torch.Generator().manual_seed(int(seed))

    def __call__(self, features):
        import numpy as np
        import torch

        pixels = torch.as_tensor(np.stack([np.asarray(f["pixel_values"]) for f in features]), dtype=torch.float32)
        pixels = pixels / self.max_pixel
        augment = [bool(f.get("augment", 0)) for f in features]
        if self.jitter and any(augment):
            pixels = pixels.view(-1, self.side, self.side)
            for i in (i for i, a in enumerate(augment) if a):
                dx, dy = (torch.randint(-self.jitter, self.jitter + 1, (2,), generator=self.generator)).tolist()
                pixels[i] = shift(pixels[i], dx, dy)
            pixels = pixels.view(len(features), -1)
        batch = {"pixel_values": pixels}
        if "labels" in features[0]:
            batch["labels"] = torch.as_tensor(np.array([f["labels"] for f in features]), dtype=torch.long)
        return batch


def shift(image, dx: int, dy: int):
    """``image`` (H×W) moved by dx columns and dy rows; what moves in is zero."""
    import torch

    out = torch.zeros_like(image)
    h, w = image.shape
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = image[
        max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out
