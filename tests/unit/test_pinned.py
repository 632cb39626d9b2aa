"""Pinned numerics: the first logged training losses of a tiny seeded ``finetune`` and of a
tiny seeded ``distill`` (kd + pkd + hidden_mse, a narrower student, so the width
projection is in play). The values were recorded on the code before the command/method
restructuring (commit c242f33) and must not drift: a refactor that changes the order of
random draws, the loss sum or the data order shows here first (torchtune pins its recipes
the same way).

Run through the CLI, so the test does not depend on where the workflows live.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from conftest import STUDENT_CONFIG
from lamina.cli import app

runner = CliRunner()

def _losses(out) -> list[float]:
    record = json.loads((out / "lamina_results.json").read_text())
    return [loss for _, loss in record["training"]["loss_curve"]]


def _run(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def test_finetune_first_losses_are_pinned(tiny_bert_with_tokenizer, sst_like, tmp_path):
    out = tmp_path / "ft"
    _run("finetune", tiny_bert_with_tokenizer, "--task", "sst2", "-o", out, "--data-dir", sst_like, "--max-steps", 6,
         "--batch-size", 8, "--lr", 1e-3, "--max-length", 32, "--seed", 7, "--logging-steps", 1, "--eval-steps", 3)
    assert _losses(out) == pytest.approx(PINNED["finetune"], abs=1e-6)


def test_distill_first_losses_are_pinned(tiny_teacher, sst_like, tmp_path):
    out = tmp_path / "kd"
    _run("distill", "--teacher", tiny_teacher, "--task", "sst2", "-o", out, "--data-dir", sst_like,
         "--student-config", STUDENT_CONFIG, "--loss", "kd=1,pkd=10,hidden_mse=1", "--layer-map", "skip",
         "--max-steps", 6, "--batch-size", 8, "--lr", 1e-3, "--max-length", 32, "--seed", 7, "--logging-steps", 1,
         "--eval-steps", 3, "--cache-dtype", "float32", "--cache-dir", tmp_path / "cache")
    assert _losses(out) == pytest.approx(PINNED["distill"], abs=1e-6)


# recorded at c242f33 through the Python API (finetune had no --logging-steps flag then)
PINNED = {
    "finetune": [0.6933218240737915, 0.6951638460159302, 0.6950895190238953, 0.6942892074584961, 0.6954871416091919,
                 0.6926812529563904],
    "distill": [22.6585693359375, 20.66472053527832, 19.650440216064453, 18.672510147094727, 18.21466827392578,
                17.502517700195312],
}
