"""CPU speed of a 70%-sparse lottery ticket against the dense model: dense kernels, int8, a sparse format.

    python benchmarks/sparse_ticket_speed.py [--model minilm-l6 | --ticket OUT_OF_LAMINA_LOTTERY]
        [--sparsity 0.7] [--batch-size 32] [--seq-len 128] [--rounds 5] [--repeats 5] [--threads N]

Variants, timed in interleaved rounds with lamina's one timing helper (median of rounds ×
median of repeats; ratios to the dense model from the same run):

- ``dense``: the model as it is;
- ``sparse-dense-kernels``: the ticket (``--ticket``, or the model magnitude-pruned to
  ``--sparsity`` with lamina's global threshold over the prunable matrices) run as it is
  saved: zeros stored in dense tensors. Dense matmuls do the same work on zeros: expect no
  speed-up;
- ``dense-int8`` / ``sparse-int8``: ``torch.ao.quantization.quantize_dynamic`` of the Linear
  layers (int8 weights, dynamic activation scales): faster or not, the same for zeros;
- ``sparse-csr``: every pruned Linear's weight as a ``torch.sparse_csr`` tensor
  (``torch.sparse.mm``): the only variant that skips the zeros; at 70% unstructured sparsity
  sparse kernels on CPU are usually *slower* than dense BLAS.

The sparse variants' outputs are checked against the ticket's dense output (max abs
difference printed). Writes ``benchmarks/results/sparse_ticket_speed.{json,md}``. Run it on a
quiet machine: timings on a loaded one are void.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import sys
from pathlib import Path

import torch
import transformers
from torch import nn

from lamina.eval.timing import compare_throughput
from lamina.models.loading import load_model
from lamina.models.sparsity import apply_masks, magnitude_masks, prunable_parameters, sparsity_of

RESULTS = Path(__file__).parent / "results"


class CSRLinear(nn.Module):
    """A Linear whose weight is held as a CSR sparse matrix (y = x Wᵀ + b through torch.sparse.mm)."""

    def __init__(self, linear: nn.Linear):
        super().__init__()
        self.weight_csr = linear.weight.detach().to_sparse_csr()
        self.bias = None if linear.bias is None else linear.bias.detach()
        self.out_features = linear.out_features

    def forward(self, x):
        flat = x.reshape(-1, x.shape[-1])
        y = torch.sparse.mm(self.weight_csr, flat.t()).t()
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*x.shape[:-1], self.out_features)


def to_csr(model: nn.Module) -> nn.Module:
    out = copy.deepcopy(model)
    targets = {id(p) for p in prunable_parameters(out).values()}
    for module in list(out.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, nn.Linear) and id(child.weight) in targets:
                setattr(module, name, CSRLinear(child))
    return out


def int8(model: nn.Module) -> nn.Module:
    from torch.ao.quantization import quantize_dynamic

    return quantize_dynamic(copy.deepcopy(model), {nn.Linear}, dtype=torch.qint8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="minilm-l6")
    ap.add_argument("--ticket", default=None, help="a lamina lottery output folder (default: prune --model)")
    ap.add_argument("--sparsity", type=float, default=0.7)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=torch.get_num_threads())
    ap.add_argument("--no-int8", action="store_true")
    ap.add_argument("--out", default=str(RESULTS / "sparse_ticket_speed"))
    args = ap.parse_args()

    dense, _, _ = load_model(args.model, with_tokenizer=False)
    if args.ticket:
        ticket, _, _ = load_model(args.ticket, with_tokenizer=False)
        ticket = getattr(ticket, "base_model", ticket)  # the same body as the dense model
    else:
        ticket = copy.deepcopy(dense)
        apply_masks(ticket, magnitude_masks(ticket, args.sparsity))
    masks = {k: p != 0 for k, p in prunable_parameters(ticket).items()}
    variants = {"dense": dense, "sparse-dense-kernels": ticket, "sparse-csr": to_csr(ticket)}
    if not args.no_int8:
        variants["dense-int8"] = int8(dense)
        variants["sparse-int8"] = int8(ticket)

    ids = torch.randint(5, 1000, (2, 16), generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        ref = ticket(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state
        check = {
            n: float((m(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state - ref).abs().max())
            for n, m in variants.items()
            if n.startswith("sparse")
        }

    timed = compare_throughput(
        variants,
        rounds=args.rounds,
        batch_size=args.batch_size,
        seq_len=args.seq_len,
        repeats=args.repeats,
        threads=args.threads,
    )
    base = timed["dense"]["seconds_per_batch"]
    rows = [
        {
            "variant": n,
            "seconds_per_batch_median": round(t["seconds_per_batch"], 4),
            "seconds_per_batch_rounds": [round(s, 4) for s in t["seconds_per_round"]],
            "samples_per_second": round(t["samples_per_second"], 2),
            "speedup_vs_dense": round(base / t["seconds_per_batch"], 3),
            "max_abs_diff_vs_ticket": check.get(n),
        }
        for n, t in timed.items()
    ]
    result = {
        "command": "python " + " ".join(["benchmarks/sparse_ticket_speed.py", *sys.argv[1:]]),
        "model": args.model,
        "ticket": args.ticket,
        "sparsity_of_prunable": round(sparsity_of(masks), 4),
        "batch_size": args.batch_size,
        "seq_len": args.seq_len,
        "rounds": args.rounds,
        "repeats": args.repeats,
        "threads": args.threads,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
        "rows": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# Sparse ticket speed ({result['sparsity_of_prunable']:.0%} of the prunable weights zero)",
        "",
        f"`{result['command']}`",
        "",
        "| variant | samples / s | speed-up vs dense | max abs diff vs ticket |",
        "|---|---:|---:|---:|",
    ]
    for r in rows:
        diff = r["max_abs_diff_vs_ticket"]
        lines.append(
            f"| {r['variant']} | {r['samples_per_second']} | {r['speedup_vs_dense']:.2f}x | "
            f"{'' if diff is None else f'{diff:.2e}'} |"
        )
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
