"""The trained module of a distillation run: the student plus every trainable part of it
(learned width projections; the teachers too, for a method that trains them); see
:mod:`lamina.distillation.trainer`. Its own module because it subclasses ``torch.nn.Module``: the
trainer module, which the method registry imports, stays free of torch until a run."""

from __future__ import annotations

from torch import nn


class DistillModule(nn.Module):
    # compute_loss returns a per-batch mean itself: the Trainer must not rescale it by
    # token counts or by the number of processes (it would, seeing forward(**inputs))
    accepts_loss_kwargs = False
    _keys_to_ignore_on_save = None  # read by the Trainer after loading the best checkpoint

    def __init__(
        self,
        student: nn.Module,
        projections: dict[int, nn.Module] | None = None,
        teachers: list[nn.Module] | None = None,
    ):
        super().__init__()
        self.student = student
        self.projections = nn.ModuleDict({str(k): v for k, v in (projections or {}).items()})
        if teachers:  # trained teachers are part of the module, so checkpoints carry them
            self.teachers = nn.ModuleList(teachers)
        self.config = student.config  # the Trainer reads a few fields (e.g. for logging)

    def forward(self, project: dict[int, set[int]] | None = None, **inputs):
        """The student's outputs; with ``project`` ({teacher index: student hidden indices})
        also those hidden states mapped to each teacher's width. The projections run here,
        inside forward, so DDP sees and synchronises their gradients."""
        out = self.student(**inputs)
        if project is None:
            return out
        projected = {
            (t, j): self.projections[str(t)](out.hidden_states[j])
            for t, indices in project.items()
            if str(t) in self.projections
            for j in indices
        }
        return out, projected
