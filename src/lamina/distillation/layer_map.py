"""Which teacher layer each student layer learns from.

Indices are hidden-state indices: ``0`` is the embedding output, ``j`` the output of layer
``j`` (1-based). For a student of ``m`` layers and a teacher of ``n``:

* ``skip``  (PKD-Skip): student ``j`` ← teacher ``round(j·n/m)`` (3 of 6: 2, 4, 6);
* ``last``  (PKD-Last): student ``j`` ← teacher ``n − m + j`` (3 of 6: 4, 5, 6);
* ``first``: student ``j`` ← teacher ``j`` (3 of 6: 1, 2, 3);
* explicit: ``"1:2,2:4,3:6"`` (``student:teacher`` pairs; ``0:0`` maps the embeddings).
"""

from __future__ import annotations

from lamina.errors import LaminaError

NAMED = ("skip", "last", "first")


def build_layer_map(spec: str, student_layers: int, teacher_layers: int) -> list[tuple[int, int]]:
    m, n = student_layers, teacher_layers
    if spec in NAMED:
        if m > n:
            raise LaminaError(f"layer map '{spec}': the student has more layers ({m}) than the teacher ({n})")
        if spec == "skip":
            return [(j, round(j * n / m)) for j in range(1, m + 1)]
        if spec == "last":
            return [(j, n - m + j) for j in range(1, m + 1)]
        return [(j, j) for j in range(1, m + 1)]
    pairs = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        s, sep, t = part.partition(":")
        if not sep or not s.strip().isdigit() or not t.strip().isdigit():
            raise LaminaError(f"layer map '{spec}': use skip, last, first or pairs like 1:2,2:4")
        pairs.append((int(s), int(t)))
    if not pairs:
        raise LaminaError("empty layer map")
    for s, t in pairs:
        if not 0 <= s <= m or not 0 <= t <= n:
            raise LaminaError(
                f"layer map pair {s}:{t} out of range: student layers 0..{m}, teacher layers 0..{n} (0 = embeddings)"
            )
    return pairs
