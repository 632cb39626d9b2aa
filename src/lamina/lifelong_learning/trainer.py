"""One lifelong stage's training: HF Trainer on encoded rows with LAMOL's loss, QA (the answer)
plus ``lm_lambda`` times LM (the whole example after the task token), per row as NLL
(``token_nll``) or, for rows marked ``kd``, as lamina's ``kd`` loss against the teacher."""

from __future__ import annotations

from pathlib import Path

from lamina.errors import LaminaError


class Collator:
    """Right-pads ``input_ids`` (pad id), ``labels`` and ``qa_labels`` (-100) to the longest row, or
    to ``width`` (``--pad-to-max-length``); ``kd`` per row."""

    def __init__(self, pad: int, width: int | None = None):
        self.pad, self.width = pad, width

    def __call__(self, features):
        import torch

        width = self.width or max(len(f["input_ids"]) for f in features)

        def padded(key, value):
            return torch.tensor([f[key] + [value] * (width - len(f[key])) for f in features])

        return {
            "input_ids": padded("input_ids", self.pad),
            "attention_mask": torch.tensor(
                [[1] * len(f["input_ids"]) + [0] * (width - len(f["input_ids"])) for f in features]
            ),
            "labels": padded("labels", -100),
            "qa_labels": padded("qa_labels", -100),
            "kd": torch.tensor([int(f["kd"]) for f in features]),
        }


def lifelong_trainer_class():
    """HF Trainer whose loss is LAMOL's QA + λ·LM, per row as NLL or (rows marked ``kd``) as
    lamina's ``kd`` loss against the teacher (Word-KD / Seq-KD-soft)."""
    import torch
    from transformers import Trainer

    from lamina.losses import LossContext, TeacherView, get_loss
    from lamina.losses.functional import token_nll

    class LifelongTrainer(Trainer):
        def __init__(self, *args, teacher=None, lm_lambda: float = 0.25, temperature: float = 2.0, **kwargs):
            super().__init__(*args, **kwargs)
            self.teacher, self.lm_lambda, self.temperature = teacher, lm_lambda, temperature
            self.kd_loss = get_loss("kd")
            if teacher is not None:
                teacher.to(self.args.device).eval().requires_grad_(False)

        def _kd(self, logits, teacher_logits, labels, rows, mask):
            pos = torch.zeros_like(labels, dtype=torch.bool)
            pos[:, :-1] = (labels[:, 1:] != -100) & rows[:, None]
            ctx = LossContext(
                student_logits=logits,
                labels=None,
                attention_mask=mask,
                teachers=[TeacherView(logits=teacher_logits)],
                temperature=self.temperature,
                shift_labels=True,
                token_positions=pos,
            )
            return self.kd_loss(ctx)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            kd = inputs["kd"].bool()
            ids, mask = inputs["input_ids"], inputs["attention_mask"]
            out = model(input_ids=ids, attention_mask=mask)
            logits, n = out.logits, len(kd)
            loss = logits.sum() * 0.0
            nll_rows = ~kd
            if nll_rows.any():
                keep = nll_rows[:, None]
                qa = token_nll(logits, inputs["qa_labels"].masked_fill(~keep, -100), shift=True)
                lm = token_nll(logits, inputs["labels"].masked_fill(~keep, -100), shift=True)
                loss = loss + (qa + self.lm_lambda * lm) * (nll_rows.sum() / n)
            if kd.any():
                if self.teacher is None:
                    raise LaminaError("rows marked for distillation but no teacher")
                with torch.no_grad():
                    t_logits = self.teacher(input_ids=ids, attention_mask=mask).logits
                qa = self._kd(logits, t_logits, inputs["qa_labels"], kd, mask)
                lm = self._kd(logits, t_logits, inputs["labels"], kd, mask)
                loss = loss + (qa + self.lm_lambda * lm) * (kd.sum() / n)
            return (loss, out) if return_outputs else loss

    return LifelongTrainer


def train_stage(model, rows: list[dict], cfg, work: Path, tokens, *, teacher=None, callbacks=None) -> dict:
    """Train ``model`` on the encoded ``rows`` (each with ``kd``) with HF Trainer; the loss summary."""
    import datasets

    from lamina.training.arguments import total_steps, training_arguments

    data = datasets.Dataset.from_list([{k: r[k] for k in ("input_ids", "labels", "qa_labels", "kd")} for r in rows])
    # a stage is short (tens of steps): log often enough that the last logged loss is not the first
    total = total_steps(cfg, len(data))
    args = training_arguments(
        cfg,
        work,
        num_examples=len(data),
        eval_strategy="no",
        save_strategy="no",
        load_best_model_at_end=False,
        metric_for_best_model=None,
        remove_unused_columns=False,
        report_to=[],
        logging_steps=max(1, min(cfg.logging_steps, total // 10)),
    )
    collator = Collator(tokens.pad, cfg.max_length if cfg.pad_to_max_length else None)
    trainer = lifelong_trainer_class()(
        model=model,
        args=args,
        train_dataset=data,
        data_collator=collator,
        callbacks=callbacks,
        teacher=teacher,
        lm_lambda=cfg.lm_lambda,
        temperature=cfg.temperature,
    )
    out = trainer.train()
    logged = [h for h in trainer.state.log_history if "loss" in h]
    losses = [h["loss"] for h in logged]
    return {
        "steps": trainer.state.global_step,
        "train_loss": out.training_loss,
        "train_loss_first": losses[0] if losses else None,
        "train_loss_last": losses[-1] if losses else None,
        "loss_curve": [[h["step"], h["loss"]] for h in logged],
        "examples": len(data),
    }
