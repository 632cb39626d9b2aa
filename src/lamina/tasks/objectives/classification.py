"""Sequence classifiers over ``text``/``text_pair``: class labels (``classification``) or one
number per example (``regression``)."""

from __future__ import annotations

from lamina.tasks.base import label_distribution, split_metrics
from lamina.tasks.objectives.base import Objective, Prepared, evaluate_splits, register_objective


class SequenceClassification(Objective):
    auto_class = "AutoModelForSequenceClassification"

    def load_model(self, spec, task, *, train):
        from lamina.models.loading import load_for_classification

        return load_for_classification(spec, task, train=train)

    def model_from_config(self, config, task):
        from transformers import AutoModelForSequenceClassification

        config.num_labels = task.num_labels
        config.problem_type = "regression" if task.is_regression else "single_label_classification"
        if not task.is_regression:
            config.id2label = task.id2label()
            config.label2id = {v: k for k, v in task.id2label().items()}
        return AutoModelForSequenceClassification.from_config(config)

    def prepare(self, task, raw, tokenizer, settings, *, model=None) -> Prepared:
        from lamina.data.encode import encode, padding_collator, subset

        train = subset(raw["train"], settings.max_train_samples, settings.seed)
        evals = {s: subset(raw[s], settings.max_eval_samples, settings.seed) for s in task.eval_splits}
        info = (
            {}
            if task.is_regression
            else {"eval_labels": {s: label_distribution(task, d["label"]) for s, d in evals.items()}}
        )
        return Prepared(
            train=encode(train, tokenizer, settings.max_length),
            evals={s: encode(d, tokenizer, settings.max_length) for s, d in evals.items()},
            collator=padding_collator(
                tokenizer, pad_to_max_length=settings.pad_to_max_length, max_length=settings.max_length
            ),
            raw_train=raw["train"],
            train_rows=train,
            info=info,
        )

    def compute_metrics(self, task):
        from lamina.eval.metrics import trainer_metrics

        return trainer_metrics(task)

    def scorer(self, task, tokenizer, settings, record):
        from lamina.data.encode import encode, subset
        from lamina.errors import LaminaError
        from lamina.eval.metrics import compute_metrics
        from lamina.eval.scoring import predict

        splits = {"dev": task.eval_splits, "train": ("train",)}.get(settings.split)
        if splits is None:
            raise LaminaError(f"--split must be dev or train, not '{settings.split}'")
        data = task.load(settings.data_dir)
        encoded = {}
        for s in splits:
            ds = subset(data[s], settings.max_samples, settings.seed)
            encoded[s] = encode(ds, tokenizer, settings.max_length)
            record.setdefault("examples", {})[s] = len(ds)
            if not task.is_regression:
                record.setdefault("labels_scored", {})[s] = label_distribution(task, ds["label"])

        def score(model) -> dict:
            metrics = {}
            for s, enc in encoded.items():
                outputs, labels = predict(model, tokenizer, enc, batch_size=settings.batch_size)
                metrics.update(split_metrics(task, s, compute_metrics(task, outputs, labels)))
            return metrics

        return score

    def evaluate(self, task, trainer, data):
        return evaluate_splits(task, trainer, data.evals)


@register_objective("classification")
class Classification(SequenceClassification):
    """Class labels: cross-entropy, scored by the task's label metrics."""

    capabilities = frozenset({"text", "classes"})


@register_objective("regression")
class Regression(SequenceClassification):
    """One score per example: mean squared error, scored by correlations."""

    capabilities = frozenset({"text", "regression"})
