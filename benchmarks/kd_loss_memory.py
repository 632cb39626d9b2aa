"""Peak memory of the token-level KD loss alone (forward + backward) on a synthetic batch:
B=4, T=256, V=49152, float32, CPU; today's unchunked formula vs the chunked ``kd`` loss.

    for m in unchunked chunked; do MALLOC_MMAP_THRESHOLD_=131072 PYTHONPATH=src python benchmarks/kd_loss_memory.py $m; done

Each mode in its own process (peak RSS, VmHWM, is a high-water mark). The fixed mmap threshold
makes glibc return freed large blocks at once, so the figure is what the tensors hold, not what
the allocator keeps. Memory only: timings on a shared machine mean nothing.
"""

import sys

import torch

from lamina.losses import LossContext, TeacherView, get_loss
from lamina.losses import functional as F


def hwm() -> int:
    return int(next(line for line in open("/proc/self/status") if line.startswith("VmHWM")).split()[1])


mode = sys.argv[1]
B, T, V = 4, 256, 49152
g = torch.Generator().manual_seed(0)
student = torch.randn(B, T, V, generator=g, requires_grad=True)
teacher = torch.randn(B, T, V, generator=g)
labels = torch.randint(0, V, (B, T), generator=g)
labels[0, 200:] = -100  # some padding (today's loss then copies the selected rows)
keep = torch.zeros_like(labels, dtype=torch.bool)
keep[:, :-1] = labels[:, 1:] != -100
base = hwm()
if mode == "unchunked":  # the kd loss before the change: select, then log-softmax of both over every token
    loss = F.soft_target_kd(student[keep], teacher[keep], 2.0)
else:
    loss = get_loss("kd")(
        LossContext(
            student_logits=student,
            labels=labels,
            attention_mask=torch.ones_like(labels),
            teachers=[TeacherView(logits=teacher)],
            temperature=2.0,
            token_positions=keep,
        )
    )
forward = hwm()
loss.backward()
peak = hwm()
print(
    f"{mode}: loss {loss.item():.5f}; peak RSS above the inputs: forward {(forward - base) / 1024:.0f} MiB, "
    f"forward + backward {(peak - base) / 1024:.0f} MiB (one B×T×V float32 tensor is {B * T * V * 4 / 2**20:.0f} MiB)"
)
