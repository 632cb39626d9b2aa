"""The budget, the grid of candidate shapes, and the proxy that picks which shapes are timed.

A *shape* is ``layers:FFN:heads:hidden`` (every layer alike; the notation of
``benchmarks/width_shapes.py``). The grid is every depth from 1 to the model's, times FFN
{1, 1/2, 1/4} of the model's, times heads {1, 1/2} (where the head size is hidden / heads, as in
BERT, the hidden size halves with them), minus what the architecture cannot express
(:func:`lamina.models.width.check_width_request` says) and minus the model's own shape. Those are
the widths lamina's benchmarks measured (MiniLM-L6 on bbc-news: 3:384:12:384 at 3.82x kept 94.66
vs 93.30 for 6:768:6:192 at 3.59x; FFN alone buys little, 1/8 of it 1.85x), so the grid holds
the shapes that were worth healing there and no finer steps.

Which shapes are *timed* is picked by a cost proxy (multiply-adds per token, or parameters for the
size budgets) scaled from the model's own measured shape on the shipped backend: per width
combination, the deepest depth predicted to meet the budget with a 15% margin ("safe") and the
next deeper one ("straddler": the proxy is off by up to 1.39x on MiniLM-L6's table, 6:1536:6:192
predicted 2.37x, measured 1.71x), largest first, at most ``max_shapes``. The proxy only chooses
what to measure: whether a shape meets the budget is always its measured figure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from lamina.errors import LaminaError

FFN_FRACTIONS = (1, 2, 4)  # FFN kept: all, 1/2, 1/4
HEAD_FRACTIONS = (1, 2)  # heads kept: all, 1/2 (hidden with them where the head size is hidden / heads)
MARGIN = 1.15  # a "safe" shape meets the budget by this factor on the proxy


@dataclass(frozen=True)
class Shape:
    layers: int
    ffn: int
    heads: int
    hidden: int
    kv_heads: int

    @property
    def name(self) -> str:
        return f"{self.layers}:{self.ffn}:{self.heads}:{self.hidden}"

    @property
    def slug(self) -> str:
        return f"s{self.layers}-{self.ffn}-{self.heads}-{self.hidden}"

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def of(cls, data: dict) -> Shape:
        return cls(**{k: int(data[k]) for k in ("layers", "ffn", "heads", "hidden", "kv_heads")})


BUDGETS = {  # setting → (what a measurement says, direction, unit)
    "speedup": ("speedup", "min", "x"),
    "latency_ms": ("latency_ms", "max", " ms"),
    "max_params": ("parameters", "max", ""),
    "max_size_mb": ("megabytes", "max", " MB"),
}


@dataclass(frozen=True)
class Budget:
    kind: str  # a key of BUDGETS
    value: float

    @property
    def figure(self) -> str:
        return BUDGETS[self.kind][0]

    def of(self, measured: dict) -> float:
        return float(measured[self.figure])

    def meets(self, measured: dict, margin: float = 1.0) -> bool:
        x = self.of(measured)
        return x >= self.value * margin if BUDGETS[self.kind][1] == "min" else x * margin <= self.value

    def text(self) -> str:
        flag = "--" + self.kind.replace("_", "-")
        return f"{flag} {int(self.value) if self.value.is_integer() else self.value}"

    def show(self, measured: dict) -> str:
        x = self.of(measured)
        unit = BUDGETS[self.kind][2]
        return f"{x:,.0f}{unit}" if self.kind == "max_params" else f"{x:.2f}{unit}"


def shape_of(model_or_config) -> Shape:
    from lamina.models.width import model_shape

    s = model_shape(model_or_config)
    return Shape(
        layers=s["layers"],
        ffn=s.get("ffn", 0),
        heads=s.get("heads", 0),
        hidden=s.get("hidden", 0),
        kv_heads=s.get("kv_heads", 0),
    )


def grid(config) -> list[Shape]:
    """Every shape of the grid the architecture of ``config`` can express, the model's own excluded."""
    from lamina.models.adapters import get_adapter
    from lamina.models.width import check_width_request

    full = shape_of(config)
    spec = get_adapter(config).width
    widths = [(full.ffn, full.heads, full.hidden, full.kv_heads)]
    if spec is not None:
        widths = []
        derived = spec.head_dim_field is None
        for f in FFN_FRACTIONS:
            for h in HEAD_FRACTIONS:
                ffn, heads = full.ffn // f, full.heads // h
                hidden = full.hidden // h if derived else full.hidden
                if h > 1 and (spec.no_heads or (derived and spec.no_hidden)):
                    continue
                try:
                    check_width_request(
                        config, ffn=ffn, heads=heads if h > 1 else None, hidden=hidden if h > 1 and derived else None
                    )
                except LaminaError:
                    continue
                kv = full.kv_heads if h == 1 else max(1, full.kv_heads * heads // full.heads)
                widths.append((ffn, heads, hidden, kv))
    out = [
        Shape(layers=d, ffn=f, heads=h, hidden=hd, kv_heads=kv)
        for f, h, hd, kv in widths
        for d in range(1, full.layers + 1)
    ]
    return [s for s in out if s != full]


def multiply_adds(shape: Shape, full: Shape, seq_len: int) -> float:
    """Multiply-adds per token of the block stack (projections, FFN, attention over ``seq_len``)."""
    head = (full.hidden // full.heads) if full.heads else 0
    q, kv = shape.heads * head, shape.kv_heads * head
    return shape.layers * (
        2 * shape.hidden * q + 2 * shape.hidden * kv + 2 * shape.hidden * shape.ffn + 2 * seq_len * q
    )


def parameters(shape: Shape, full: Shape, vocab: int) -> float:
    head = (full.hidden // full.heads) if full.heads else 0
    q, kv = shape.heads * head, shape.kv_heads * head
    return vocab * shape.hidden + shape.layers * (
        2 * shape.hidden * q + 2 * shape.hidden * kv + 2 * shape.hidden * shape.ffn
    )


def predict(shape: Shape, full: Shape, full_measured: dict, budget: Budget, *, seq_len: int, vocab: int) -> float:
    """The budget's figure for ``shape``, scaled by the proxy from the model's own shape measured
    on the shipped backend."""
    if budget.kind in ("speedup", "latency_ms"):
        ratio = multiply_adds(shape, full, seq_len) / multiply_adds(full, full, seq_len)
        return full_measured["speedup"] / ratio if budget.kind == "speedup" else full_measured["latency_ms"] * ratio
    ratio = parameters(shape, full, vocab) / parameters(full, full, vocab)
    return full_measured[budget.figure] * ratio


def select(shapes: list[Shape], predicted: dict[Shape, float], budget: Budget, max_shapes: int) -> list[Shape]:
    """The shapes to time (see the module's docstring): per width combination the deepest "safe"
    depth, then the "straddlers", largest first; when the proxy says nothing can meet the budget,
    the ``max_shapes`` smallest (measured, the run says how close they come)."""

    def ok(s, margin=1.0):
        return budget.meets({budget.figure: predicted[s]}, margin)

    size = {s: predicted[s] if BUDGETS[budget.kind][1] == "max" else -predicted[s] for s in shapes}
    safe, straddlers = [], []
    for combo in dict.fromkeys((s.ffn, s.heads, s.hidden) for s in shapes):
        column = sorted((s for s in shapes if (s.ffn, s.heads, s.hidden) == combo), key=lambda s: s.layers)
        fits = [s for s in column if ok(s, MARGIN)] or [s for s in column if ok(s)][-1:]
        if fits:
            best = fits[-1]
            safe.append(best)
            deeper = [s for s in column if s.layers > best.layers][:1]
            straddlers += deeper
    chosen = sorted(safe, key=lambda s: -size[s]) + sorted(straddlers, key=lambda s: -size[s])
    if not chosen:
        chosen = sorted(shapes, key=lambda s: size[s])
    return list(dict.fromkeys(chosen))[:max_shapes]
