"""The real MiniLM-L6 and real SST-2 sentences (LAMINA_DATA_DIR → ../shared/data)."""

from __future__ import annotations

import json

import pytest
import torch
import transformers
from typer.testing import CliRunner

from lamina.cli import app
from lamina.data.calibration import load_calibration_texts
from lamina.data.glue import read_glue_texts

pytestmark = pytest.mark.integration
runner = CliRunner()


def test_sst2_reader_counts(data_dir):
    assert len(read_glue_texts("sst2", "train", data_dir)) == 67_349
    assert len(read_glue_texts("sst2", "dev", data_dir)) == 872
    assert len(read_glue_texts("cola", "dev", data_dir)) == 1_043  # no header, no final newline
    mrpc = read_glue_texts("mrpc", "dev", data_dir)
    assert len(mrpc) == 408 and all(len(pair) == 2 for pair in mrpc)  # BOM header handled


def test_contribution_prune_of_minilm_on_sst2(data_dir, tmp_path):
    out = tmp_path / "minilm-contrib4"
    result = runner.invoke(
        app,
        [
            "inspect",
            "minilm-l6",
            "--calib-data",
            "sst2",
            "--data-dir",
            str(data_dir),
            "--calib-samples",
            "64",
            "--json",
            str(tmp_path / "inspect.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    table = json.loads((tmp_path / "inspect.json").read_text())
    cos = [row["contribution_cosine"] for row in table["rows"]]
    assert len(cos) == 6 and all(0.0 < c < 1.0 for c in cos)
    assert table["calibration"]["samples"] == 64 and table["calibration"]["tokens"] > 64 * 3

    result = runner.invoke(
        app,
        [
            "prune",
            "minilm-l6",
            "-o",
            str(out),
            "--strategy",
            "contribution",
            "--drop",
            "2",
            "--calib-data",
            "sst2",
            "--data-dir",
            str(data_dir),
            "--calib-samples",
            "64",
            "--no-speed",
        ],
    )
    assert result.exit_code == 0, result.output
    info = json.loads((out / "lamina_results.json").read_text())
    highest = sorted(sorted(range(6), key=lambda i: -cos[i])[:2])
    assert info["prune"]["dropped_layers"] == highest
    assert info["prune"]["layer_scores"]["contribution_cosine"] == pytest.approx(cos, abs=1e-6)

    # vanilla reload gives the same output as the in-memory pruned model
    from lamina.models import drop_layers
    from lamina.models.bundled import bundled_path

    original = transformers.AutoModel.from_pretrained(bundled_path("minilm-l6")).eval()
    pruned = drop_layers(original, info["prune"]["kept_layers"])
    reloaded = transformers.AutoModel.from_pretrained(out).eval()
    tok = transformers.AutoTokenizer.from_pretrained(out)
    texts = [t[0] for t in load_calibration_texts("sst2", data_dir=str(data_dir), samples=8)]
    batch = tok(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        torch.testing.assert_close(reloaded(**batch).last_hidden_state, pruned(**batch).last_hidden_state)
    assert reloaded.config.num_hidden_layers == 4
