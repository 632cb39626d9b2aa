"""P1c (issue 12): the matmul FLOPs of one MetaDistil meta round against a KD step, per ``--meta-grad``.

A count, not a timing: ``torch.utils.flop_counter.FlopCounterMode`` adds up the FLOPs of the
matrix products (linear layers, attention), which dominate these models; elementwise work is
not counted. It does not depend on the machine's load, so it runs anywhere, on random weights.
The models are MiniLM-L6-shaped BERTs (hidden 384, 12 heads, 5 classes, like the quickstart's
bbc-news teacher): the teacher with 6 layers, the student with 3; loss kd=0.5,ce=0.5 at T=2;
sequences of 64 tokens; the student in training mode (dropout on), the quiz in eval mode, as in
a run. FLOPs are linear in the batch, so a batch of 8 with a quiz of 25 gives P1c's ratios
(batch 32, quiz 100) at a sixteenth of the CPU time.

    python benchmarks/p1c_meta_flops.py --batch 8 --quiz 25    # P1c's quiz of 100
    python benchmarks/p1c_meta_flops.py --batch 8 --quiz 8     # one quiz batch of 32 (--held-batches 1)

Prints, in units of one KD step (student forward + backward, teacher forward without graph):
the parts of a round, and a whole step with a meta round (the KD step + the round) per mode.
"""

from __future__ import annotations

import argparse
import json

import torch
import transformers
from torch.func import functional_call
from torch.utils.flop_counter import FlopCounterMode

from lamina.distillation.methods.metadistil import PilotTape, _Taped, meta_gradient
from lamina.distillation.trainer import DistillModule
from lamina.losses.functional import cross_entropy, soft_target_kd


def bert(layers: int, seed: int):
    torch.manual_seed(seed)
    cfg = transformers.BertConfig(
        vocab_size=30522,
        hidden_size=384,
        num_attention_heads=12,
        intermediate_size=1536,
        num_hidden_layers=layers,
        num_labels=5,
        attn_implementation="eager",
    )
    return transformers.BertForSequenceClassification(cfg)


def flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--quiz", type=int, default=25)
    p.add_argument("--length", type=int, default=64)
    args = p.parse_args()
    torch.set_num_threads(1)
    teacher, student = bert(6, 0).eval(), bert(3, 1).train()
    module = DistillModule(student)
    g = torch.Generator().manual_seed(0)

    def rows(n):
        return {
            "input_ids": torch.randint(1000, 30000, (n, args.length), generator=g),
            "attention_mask": torch.ones(n, args.length, dtype=torch.long),
        }

    batch, quiz = rows(args.batch), rows(args.quiz)
    labels, quiz_labels = (
        torch.randint(0, 5, (args.batch,), generator=g),
        torch.randint(0, 5, (args.quiz,), generator=g),
    )

    def loss_of(student_logits, teacher_logits):
        return 0.5 * soft_target_kd(student_logits, teacher_logits, 2.0) + 0.5 * cross_entropy(student_logits, labels)

    def kd_step():
        s = student(**batch).logits
        with torch.no_grad():
            t = teacher(**batch).logits
        loss_of(s, t).backward()

    def forward_backward(model, inputs):
        model(**inputs).logits.sum().backward()

    def pilot(params):
        return loss_of(functional_call(student, params, args=(), kwargs=batch).logits, teacher(**batch).logits)

    def tape(params):
        taped = _Taped(module, params)
        loss = loss_of(taped(**batch).logits, teacher(**batch).logits)
        return PilotTape(loss, taped.leaves, taped.outputs, taped.replay)

    def quiz_loss(params):
        student.eval()
        try:
            return cross_entropy(functional_call(student, params, args=(), kwargs=quiz).logits, quiz_labels)
        finally:
            student.train()

    kd = flops(kd_step)
    parts = {
        "student forward (batch)": flops(lambda: student(**batch)),
        "student forward + backward (quiz)": flops(lambda: forward_backward(student, quiz)),
    }
    teacher.requires_grad_(True)
    parts["teacher forward + backward (batch)"] = flops(lambda: forward_backward(teacher, batch))
    params, teacher_params = dict(student.named_parameters()), list(teacher.parameters())
    steps = {
        mode: 1
        + flops(
            lambda m=mode: meta_gradient(
                params, teacher_params, pilot, quiz_loss, pilot_lr=5e-5, mode=m, pilot_tape=tape
            )
        )
        / kd
        for mode in ("exact", "mixed", "fd")
    }
    print(
        json.dumps(
            {
                "batch": args.batch,
                "quiz": args.quiz,
                "length": args.length,
                "kd_step_gflop": round(kd / 1e9, 2),
                "parts_x_kd_step": {k: round(v / kd, 3) for k, v in parts.items()},
                "step_with_a_meta_round_x_kd_step": {k: round(v, 3) for k, v in steps.items()},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
