"""The cheap ranking of the shapes that meet the budget: each is cut from the teacher exactly as
its healing will start (the same strategy, importance and calibration rows), and scored, with no
training, by the heal loss itself (the KD + CE mix at the heal temperature) against the teacher on
a few training examples. Forward passes only: about the cost of two evaluations of the teacher
on ``--probe-samples`` examples per shape, where a KD probe would train.

Whether this un-healed loss ranks students as healing does is not measured yet (benchmark C1 will
say); it is the cheapest signal that reads the teacher, and only the top ``--heal`` go on.
"""

from __future__ import annotations


def labelled_batches(tokenizer, rows, *, samples: int, max_length: int, batch_size: int = 16) -> list[dict]:
    """Up to ``samples`` training rows (seed 0) tokenized, with their labels."""
    import torch

    from lamina.data.calibration import calibration_batches

    picked = rows.shuffle(seed=0).select(range(min(samples, len(rows))))
    pairs = list(picked["text_pair"]) if "text_pair" in picked.column_names else None
    texts = [(a, b) for a, b in zip(picked["text"], pairs)] if pairs else [(a,) for a in picked["text"]]
    batches = calibration_batches(tokenizer, texts, max_length=max_length, batch_size=batch_size)
    labels = list(picked["label"])
    for i, b in enumerate(batches):
        b["labels"] = torch.tensor(labels[i * batch_size : (i + 1) * batch_size])
    return batches


def teacher_logits(teacher, batches) -> list:
    import torch

    teacher.eval()
    with torch.inference_mode():
        return [teacher(**{k: v for k, v in b.items() if k != "labels"}).logits.float() for b in batches]


def probe_loss(student, batches, targets, *, loss: dict, temperature: float, regression: bool = False) -> float:
    """The mean heal loss (``loss``: weights of ``kd`` and ``ce``) of ``student`` on ``batches``,
    against the teacher's logits ``targets``."""
    import torch
    import torch.nn.functional as F

    student.eval()
    total, n = 0.0, 0
    with torch.inference_mode():
        for b, t in zip(batches, targets):
            logits = student(**{k: v for k, v in b.items() if k != "labels"}).logits.float()
            if regression:
                kd = F.mse_loss(logits.squeeze(-1), t.squeeze(-1))
                ce = F.mse_loss(logits.squeeze(-1), b["labels"].float())
            else:
                T = temperature
                kd = F.kl_div(F.log_softmax(logits / T, -1), F.softmax(t / T, -1), reduction="batchmean") * T * T
                ce = F.cross_entropy(logits, b["labels"])
            value = loss.get("kd", 0.0) * kd + loss.get("ce", 0.0) * ce
            total += float(value) * len(logits)
            n += len(logits)
    return total / max(n, 1)
