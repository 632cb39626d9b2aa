"""P1 check: lamina and TextBrewer (as configured in tb_distill.py) optimise the same objective
from the same student.

    python benchmarks/textbrewer/check_same_objective.py     # lamina venv; .venv-textbrewer built

1. lamina's `--student-from-teacher top --keep 3` student equals the folder made by
   `lamina prune runs/teachers/sst2-s42 -o runs/p1/student-top3 --strategy top --keep 3 --no-speed`
   (the student tb_distill.py loads), weight for weight.
2. On one batch padded to 64 (dropout off), the gradient of lamina's loss
   (0.5·kd[KL·T²] + 0.5·ce + hidden_mse over 1:2,2:4,3:6) equals the gradient of TextBrewer's
   GeneralDistiller.compute_loss with kd_loss_type='ce', kd_loss_weight=0.5·T²,
   hard_label_weight=0.5 and three hidden_mse matches of weight 1/3. The loss values differ
   by a constant (0.5·T² × the teacher's entropy at T: cross-entropy vs KL).

TextBrewer is imported from the TextBrewer venv's site-packages (only that package, through
a temporary folder holding a link to it), so torch/transformers are this venv's.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

ROOT = Path(__file__).resolve().parents[2]
TEACHER = ROOT / "runs/teachers/sst2-s42"
STUDENT = ROOT / "runs/p1/student-top3"


def main() -> None:
    site = next((ROOT / ".venv-textbrewer/lib").glob("python3*/site-packages"))
    link_dir = Path(tempfile.mkdtemp())
    (link_dir / "textbrewer").symlink_to(site / "textbrewer")
    sys.path.insert(0, str(link_dir))
    from textbrewer import DistillationConfig, GeneralDistiller, TrainingConfig
    from textbrewer.distiller_utils import post_adaptor

    from lamina.losses.functional import cross_entropy, hidden_mse, soft_target_kd
    from lamina.models.surgery import drop_layers

    teacher = AutoModelForSequenceClassification.from_pretrained(TEACHER).eval()
    a = drop_layers(teacher, [0, 1, 2]).state_dict()
    b = AutoModelForSequenceClassification.from_pretrained(STUDENT).state_dict()
    same_init = sorted(a) == sorted(b) and all(torch.equal(a[k], b[k]) for k in a)
    print(f"1. student-from-teacher top 3 == {STUDENT.relative_to(ROOT)}: {same_init}")

    tok = AutoTokenizer.from_pretrained(TEACHER)
    texts = [
        "a gorgeous , witty , seductive movie .",
        "the film is strictly routine .",
        "it 's a bad sign when you 're rooting for the film to end",
        "often hilarious",
    ]
    batch = dict(tok(texts, padding="max_length", max_length=64, truncation=True, return_tensors="pt"))
    batch["labels"] = torch.tensor([1, 0, 0, 1])
    T = 2.0

    def grads(tool):
        student = AutoModelForSequenceClassification.from_pretrained(STUDENT).eval()
        with torch.no_grad():
            t_out = teacher(**batch, output_hidden_states=True)
        s_out = student(**batch, output_hidden_states=True)
        if tool == "lamina":
            loss = (
                0.5 * soft_target_kd(s_out.logits, t_out.logits, T)
                + 0.5 * cross_entropy(s_out.logits, batch["labels"])
                + hidden_mse(
                    [s_out.hidden_states[j] for j in (1, 2, 3)],
                    [t_out.hidden_states[2 * j] for j in (1, 2, 3)],
                    batch["attention_mask"],
                )
            )
        else:

            def adaptor(b, o):
                return {
                    "logits": o.logits,
                    "losses": o.loss,
                    "hidden": o.hidden_states,
                    "inputs_mask": b["attention_mask"],
                }

            config = DistillationConfig(
                temperature=T,
                kd_loss_type="ce",
                kd_loss_weight=0.5 * T * T,
                hard_label_weight=0.5,
                intermediate_matches=[
                    {"layer_T": 2 * j, "layer_S": j, "feature": "hidden", "loss": "hidden_mse", "weight": 1 / 3}
                    for j in (1, 2, 3)
                ],
            )
            distiller = GeneralDistiller(
                TrainingConfig(device="cpu", output_dir=tempfile.mkdtemp()), config, teacher, student, adaptor, adaptor
            )
            loss, _ = distiller.compute_loss(post_adaptor(adaptor(batch, s_out)), post_adaptor(adaptor(batch, t_out)))
        loss.backward()
        return float(loss.detach()), torch.cat([p.grad.flatten() for p in student.parameters() if p.grad is not None])

    l_lamina, g_lamina = grads("lamina")
    l_tb, g_tb = grads("textbrewer")
    rel = float((g_lamina - g_tb).norm() / g_lamina.norm())
    print(
        f"2. loss lamina {l_lamina:.6f}, TextBrewer {l_tb:.6f} (differ by a constant); "
        f"gradient relative difference {rel:.2e}, max abs {float((g_lamina - g_tb).abs().max()):.2e}"
    )
    ok = same_init and rel < 1e-5
    print("same student, same objective:", ok)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
