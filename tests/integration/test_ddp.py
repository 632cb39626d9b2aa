"""Distillation under torchrun with 2 CPU processes (gloo) gives the single-process result.

Each step covers all 64 training examples (one process × 64, or two ranks × 32), so the
comparison tests the distributed arithmetic (loss averaging, gradient all-reduce, the
teacher cache built by rank 0 and read by both, evaluation, LayerDrop's draws) independently of how a
sharded sampler orders examples. Plain SGD keeps the update linear in the gradient: Adam's first
step is about lr·sign(g), which turns floating-point noise in near-zero gradients into
full-size differences."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import torch
from conftest import STUDENT_CONFIG
from safetensors.torch import load_file


def _distill_args(teacher, data_dir, out, batch_size):
    return [
        "distill",
        "--teacher",
        str(teacher),
        "--task",
        "sst2",
        "--data-dir",
        data_dir,
        "-o",
        str(out),
        "--student-config",
        STUDENT_CONFIG,
        "--loss",
        "kd=1,ce=1,pkd=1",
        "--temperature",
        "2",
        "--batch-size",
        str(batch_size),
        "--lr",
        "0.5",
        "--optim",
        "sgd",
        "--max-steps",
        "4",
        "--eval-steps",
        "4",
        "--max-length",
        "32",
        "--no-group-by-length",
        "--logging-steps",
        "1",
        "--cache-dir",
        str(out) + ".cache",
        "--seed",
        "7",
        # LayerDrop on the student: every rank must draw the same skipped layers, or the
        # weights (and DDP's unused-parameter bookkeeping) would part ways
        "--layerdrop",
        "0.5",
    ]


def _run(cmd, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    result = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]


def test_two_process_torchrun_matches_one_process(tiny_teacher, sst_like, tmp_path):
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    _run([sys.executable, "-m", "lamina.cli", *_distill_args(tiny_teacher, sst_like, single, 64)], tmp_path)
    _run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node",
            "2",
            "--master_port",
            "29517",
            "-m",
            "lamina.cli",
            *_distill_args(tiny_teacher, sst_like, ddp, 32),
        ],
        tmp_path,
    )
    a = json.loads((single / "lamina_results.json").read_text())
    b = json.loads((ddp / "lamina_results.json").read_text())
    assert a["training"]["global_steps"] == b["training"]["global_steps"] == 4
    wa, wb = load_file(single / "model.safetensors"), load_file(ddp / "model.safetensors")
    assert wa.keys() == wb.keys()
    for key in wa:
        torch.testing.assert_close(wa[key], wb[key], rtol=1e-3, atol=1e-4)
    assert a["metrics"] == b["metrics"]
    # the weights really moved, so this is not a comparison of two untouched inits
    assert a["training"]["train_loss_last"] < a["training"]["train_loss_first"]
