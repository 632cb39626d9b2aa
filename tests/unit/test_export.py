"""lamina export on tiny models: ONNX, ONNX Runtime int8 and PyTorch int8 round trips, parity,
eval --backend onnx, shared timing, and bad input as one clear error line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_one_line_error
from typer.testing import CliRunner

from lamina.cli import app

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def exports(tiny_teacher, sst_like, tmp_path_factory):
    """The tiny fine-tuned teacher in all three formats (exported once for the module)."""
    root = tmp_path_factory.mktemp("exports")
    out = {}
    for fmt in ("onnx", "onnx-int8", "torch-int8"):
        folder = root / fmt
        r = run(
            "export",
            tiny_teacher,
            "-o",
            folder,
            "--format",
            fmt,
            "--task",
            "sst2",
            "--data-dir",
            sst_like,
            "--parity-data",
            "sst2",
            "--max-length",
            32,
        )
        assert r.exit_code == 0, r.output
        out[fmt] = folder
    return out


def record(folder) -> dict:
    return json.loads((Path(folder) / "lamina_results.json").read_text())


def test_onnx_export_matches_pytorch_on_real_text(exports):
    folder = exports["onnx"]
    assert {"model.onnx", "config.json", "tokenizer.json", "README.md", "lamina_results.json"} <= {
        p.name for p in folder.iterdir()
    }
    rec = record(folder)
    p = rec["export"]["parity"]
    assert rec["kind"] == "export" and rec["export"]["format"] == "onnx"
    assert p["max_abs_diff"] < 1e-4 and p["argmax_agreement"] == 1.0
    assert (1, 16) in [tuple(s) for s in p["shapes"]] and (7, 32) in [tuple(s) for s in p["shapes"]]  # dynamic axes
    assert rec["metrics"]["accuracy"] == pytest.approx(rec["export"]["reference_metrics"]["accuracy"])


@pytest.mark.parametrize("fmt", ["onnx-int8", "torch-int8"])
def test_int8_exports_agree_and_record_the_accuracy_change(exports, fmt):
    rec = record(exports[fmt])
    assert rec["export"]["parity"]["argmax_agreement"] >= 0.99
    change = rec["export"]["metric_change"]["accuracy"]
    assert change == pytest.approx(rec["metrics"]["accuracy"] - rec["export"]["reference_metrics"]["accuracy"])
    assert abs(change) <= 0.05
    if fmt == "onnx-int8":
        assert rec["sizes"]["bytes"] < rec["sizes"]["bytes_before"] / 2  # embeddings quantised too


def test_the_cards_five_lines_run_with_onnxruntime_alone(exports, tmp_path):
    card = (exports["onnx-int8"] / "README.md").read_text()
    code = card.split("```python\n", 1)[1].split("```", 1)[0]
    assert len(code.strip().splitlines()) == 5
    # run it from the folder's parent, as the card's relative paths expect, and prove torch stayed out
    script = code + "\nimport sys\nassert 'torch' not in sys.modules and 'transformers' not in sys.modules\n"
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=exports["onnx-int8"].parent, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    labels = json.loads((exports["onnx-int8"] / "config.json").read_text())["id2label"].values()
    assert out.stdout.strip() in labels


def test_eval_backend_onnx_gives_pytorchs_accuracy(tiny_teacher, exports, sst_like, tmp_path):
    base = ["--task", "sst2", "--data-dir", sst_like, "--max-length", 32, "--speed-batch-sizes", "1,8"]
    r1 = run("eval", tiny_teacher, *base, "--json", tmp_path / "torch.json")
    r2 = run("eval", exports["onnx"], "--backend", "onnx", *base, "--json", tmp_path / "onnx.json")
    r3 = run("eval", exports["torch-int8"], *base, "--json", tmp_path / "tq.json")
    assert r1.exit_code == 0 and r2.exit_code == 0 and r3.exit_code == 0, r1.output + r2.output + r3.output
    t, o, q = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("torch", "onnx", "tq"))
    assert o["metrics"]["accuracy"] == t["metrics"]["accuracy"]
    assert o["backend"] == "onnx" and q["backend"] == "torch-int8" and t["backend"] == "torch"
    for rec in (t, o, q):
        s = rec["speeds"]
        assert s["latency_ms_batch1_range"][0] <= s["latency_ms_batch1"] <= s["latency_ms_batch1_range"][1]
        assert s["speed_key"]
    assert o["sizes"]["parameters"] == t["sizes"]["parameters"]


def test_a_pruned_model_exports(tiny_teacher, tmp_path):
    pruned = tmp_path / "pruned"
    assert run("prune", tiny_teacher, "-o", pruned, "--keep-layers", "0,2", "--no-speed").exit_code == 0
    r = run("export", pruned, "-o", tmp_path / "onnx", "--format", "onnx", "--parity-samples", 16)
    assert r.exit_code == 0, r.output
    rec = record(tmp_path / "onnx")
    assert rec["export"]["parity"]["max_abs_diff"] < 1e-4 and rec["sizes"]["layers"] == 2


def test_torch_int8_is_plain_tensors_and_reloads_to_the_same_logits(tiny_teacher, exports, tmp_path):
    """The torch-int8 file is safetensors (nothing is unpickled), and the reloaded module gives
    exactly the logits of the module quantised in memory; a pickle from an older lamina is refused."""
    import shutil

    import torch
    from safetensors import safe_open

    from lamina.errors import LaminaError
    from lamina.models import export as ex
    from lamina.models.loading import load_model

    folder = exports["torch-int8"]
    assert (folder / "model_int8.safetensors").is_file() and not list(folder.glob("*.pt"))
    with safe_open(folder / "model_int8.safetensors", "pt") as f:
        assert any(k.endswith(".qweight") for k in f.keys())
    fp32 = load_model(str(tiny_teacher))[0]
    in_memory, reloaded = ex.quantize_torch(fp32), ex.load_torch_int8(folder)
    ids = torch.randint(5, 100, (3, 12))
    with torch.inference_mode():
        a = in_memory(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
        b = reloaded(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
    assert torch.equal(a, b)
    old = tmp_path / "old"
    shutil.copytree(folder, old)
    (old / "model_int8.safetensors").rename(old / "model_int8.pt")
    with pytest.raises(LaminaError, match="never unpickled"):
        ex.load_torch_int8(old)


def test_torch_ao_quantization_is_still_there():
    """Fails loudly on the torch that removes torch.ao.quantization: --format torch-int8 then needs torchao."""
    from lamina.models.export import torch_int8_unavailable

    assert torch_int8_unavailable() is None


def test_timing_shares_one_measurement_per_shape(tiny_teacher, exports):
    from lamina.eval.timing import clear_shared, measure_throughput, speed_key
    from lamina.models.export import OnnxModel
    from lamina.models.loading import load_model

    clear_shared()
    a, _, _ = load_model(str(tiny_teacher))
    b, _, _ = load_model(str(tiny_teacher))
    for p in b.parameters():  # other weights, same shape
        p.data.mul_(0.5)
    assert speed_key(a) == speed_key(b)
    first = measure_throughput(a, batch_size=2, seq_len=16, repeats=3)
    second = measure_throughput(b, batch_size=2, seq_len=16, repeats=3)
    assert second["shared"] and second["seconds_per_batch"] == first["seconds_per_batch"]
    assert first["seconds_min"] <= first["seconds_per_batch"] <= first["seconds_max"]
    onnx = OnnxModel(exports["onnx"], threads=1)
    timed = measure_throughput(onnx, batch_size=2, seq_len=16, repeats=3, threads=1)
    assert timed["backend"] == "onnx" and timed["speed_key"] != first["speed_key"]
    int8 = OnnxModel(exports["onnx-int8"])
    assert int8.backend == "onnx-int8" and speed_key(int8) != speed_key(onnx)
    logits = onnx(input_ids=np.ones((3, 7), dtype=np.int64), attention_mask=np.ones((3, 7), dtype=np.int64))
    assert logits.shape == (3, 2)


def test_bad_input_is_one_error_line(tiny_teacher, tiny_bert_with_tokenizer, exports, sst_like, tmp_path):
    assert_one_line_error(run("export", tiny_teacher, "-o", tmp_path / "a", "--format", "tflite"), "--format")
    (tmp_path / "empty").mkdir()
    assert_one_line_error(run("export", tmp_path / "empty", "-o", tmp_path / "b"), "not a Hugging Face model folder")
    (tmp_path / "file.txt").write_text("x")
    assert_one_line_error(run("export", tmp_path / "file.txt", "-o", tmp_path / "c"), "is a file")
    assert_one_line_error(run("export", exports["onnx"], "-o", tmp_path / "d"), "already an export")
    assert_one_line_error(
        run("eval", tiny_teacher, "--backend", "onnx", "--task", "sst2", "--data-dir", sst_like), "not an ONNX export"
    )
    assert_one_line_error(run("eval", exports["onnx-int8"], "--task", "sst2", "--data-dir", sst_like), "--backend onnx")
    assert_one_line_error(run("eval", tiny_teacher, "--backend", "tensorrt", "--task", "sst2"), "--backend")
    for name in "abcd":
        assert not (tmp_path / name).exists()
