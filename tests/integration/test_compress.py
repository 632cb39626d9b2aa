"""``lamina compress`` on the tiny fine-tuned BERT: budgets are met by measurement, the answer is always
written (with the one-line notice when nothing meets --max-drop), a killed run resumes to the same
choice, each shape is timed once, and bad input is one error line with nothing written."""

from __future__ import annotations

import pytest
from conftest import assert_one_line_error
from typer.testing import CliRunner

from lamina.cli import app

runner = CliRunner()

# a budget by parameters is exact (no timing noise), so two runs choose alike; the tiny teacher has 1.01M
# parameters, most of them in its 30k-token embedding: 1,008,000 leaves the shapes that drop layers or FFN
PARAMS = 1_008_000
# one healing step at a destructive learning rate: the students fall far below the teacher (the --max-drop notice)
FAST = dict(max_steps=1, lr=0.5, batch_size=16, max_length=32, speed_seq_len=32, probe_samples=16, max_shapes=3, heal=2)


def _cfg(teacher, data, out, **extra):
    from lamina.workflows.compress import CompressConfig

    return CompressConfig(
        model=str(teacher), task="sst2", data_dir=data, output=str(out), **{"max_params": PARAMS, **FAST, **extra}
    )


@pytest.fixture(scope="module")
def counted(tiny_teacher, sst_like, tmp_path_factory):
    """One uninterrupted run, counting the shape measurements."""
    from lamina.compression import speed
    from lamina.workflows.compress import run_compress

    out = tmp_path_factory.mktemp("compress") / "out"
    calls = []
    real = speed.measure
    mp = pytest.MonkeyPatch()
    mp.setattr(speed, "measure", lambda model, **kw: calls.append(model.num_parameters()) or real(model, **kw))
    lines = []
    try:
        record = run_compress(_cfg(tiny_teacher, sst_like, out), log=lines.append)
    finally:
        mp.undo()
    return out, record, calls, lines


def test_the_answer_meets_the_budget_and_loads_with_vanilla_transformers(counted):
    import transformers

    out, record, calls, lines = counted
    c = record["compress"]
    chosen = next(s for s in c["shapes"] if s["name"] == c["chosen"])
    assert chosen["measured"]["parameters"] <= PARAMS and chosen["meets"]
    assert all(s["measured"]["parameters"] <= PARAMS for s in c["shapes"] if s.get("score") is not None)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(out)
    assert model.num_parameters() == chosen["measured"]["parameters"] == record["sizes"]["parameters"]
    assert model.config.num_hidden_layers == chosen["shape"]["layers"]
    assert (out / "report" / "pareto.png").is_file() and "**chosen**" in (out / "report" / "candidates.md").read_text()
    card = (out / "README.md").read_text()
    assert "--max-params 1008000" in card and c["chosen"] in card
    assert any(line.startswith("[search]") and "min left" in line for line in lines)
    assert c["phases"].keys() >= {"search", "rank", "heal"} and not (out.parent / "out.work").exists()
    # every candidate is a plain run folder that lamina report reads
    healed = [s for s in c["shapes"] if s.get("score") is not None]
    assert len(healed) == 2 and all((out / s["folder"] / "lamina_results.json").is_file() for s in healed)
    result = runner.invoke(app, ["report", str(out), "-o", str(out.parent / "rep")])
    assert result.exit_code == 0, result.output


def test_nothing_within_max_drop_returns_the_closest_with_one_line(counted):
    out, record, _, lines = counted
    c = record["compress"]
    chosen = next(s for s in c["shapes"] if s["name"] == c["chosen"])
    assert not c["within_max_drop"] and chosen["drop"] > 2
    assert chosen["score"] == max(s["score"] for s in c["shapes"] if s.get("score") is not None)
    notice = [line for line in lines if line.startswith("nothing met --max-drop 2")]
    assert len(notice) == 1 and c["chosen"] in notice[0] and notice[0] in (out / "README.md").read_text()


def test_each_shape_is_timed_once(counted):
    _, record, calls, _ = counted
    shapes = record["compress"]["shapes"]
    assert len(calls) == len(shapes) + 1  # the input model (torch: the reference is also the backend) + each shape
    assert len({s["name"] for s in shapes}) == len(shapes)


def test_a_killed_run_resumes_to_the_same_choice(counted, tiny_teacher, sst_like, tmp_path, monkeypatch):
    from lamina.compression import speed
    from lamina.workflows import distill
    from lamina.workflows.compress import run_compress

    _, uninterrupted, _, _ = counted
    out = tmp_path / "out"
    real, calls = distill.run_distill, []

    def killed_on_the_second(cfg, **kw):
        calls.append(cfg.output)
        if len(calls) == 2:  # half-way: a checkpoint folder without its weights, then the kill
            (tmp_path / "out.work" / "candidates" / (cfg.output.rsplit("/", 1)[-1] + ".work") / "checkpoint-1").mkdir(
                parents=True
            )
            raise KeyboardInterrupt
        return real(cfg, **kw)

    monkeypatch.setattr(distill, "run_distill", killed_on_the_second)
    with pytest.raises(KeyboardInterrupt):
        run_compress(_cfg(tiny_teacher, sst_like, out), log=lambda _: None)
    assert not out.exists() and (tmp_path / "out.work" / "search.json").is_file()
    refused = runner.invoke(
        app,
        [
            "compress",
            str(tiny_teacher),
            "--task",
            "sst2",
            "--data-dir",
            sst_like,
            "-o",
            str(out),
            "--max-params",
            str(PARAMS),
        ],
    )
    assert_one_line_error(refused, "add --resume")
    measured = []
    monkeypatch.setattr(speed, "measure", lambda *a, **kw: measured.append(1))
    resumed = run_compress(_cfg(tiny_teacher, sst_like, out, resume=True), log=lambda _: None)
    assert len(calls) == 3 and calls[2] == calls[1] and not measured  # the second redone; nothing re-timed
    a, b = uninterrupted["compress"], resumed["compress"]
    assert b["chosen"] == a["chosen"] and b["resumed"]
    assert [(s["name"], s.get("score")) for s in b["shapes"]] == [(s["name"], s.get("score")) for s in a["shapes"]]


def test_onnx_backend_ships_an_export_that_onnxruntime_runs_alone(tiny_teacher, sst_like, tmp_path):
    import numpy as np
    import onnxruntime as ort
    import tokenizers

    from lamina.workflows.compress import run_compress

    out = tmp_path / "onnx"
    record = run_compress(
        _cfg(tiny_teacher, sst_like, out, backend="onnx-int8", heal=1, max_shapes=2, max_params=None, max_size_mb=1.0),
        log=lambda _: None,
    )
    c = record["compress"]
    chosen = next(s for s in c["shapes"] if s["name"] == c["chosen"])
    assert chosen["measured"]["megabytes"] <= 1.0 and chosen["measured"]["backend"] == "onnx-int8"
    assert not (out / "model.safetensors").exists()
    tok = tokenizers.Tokenizer.from_file(str(out / "tokenizer.json"))
    enc = tok.encode("a wonderful film")
    session = ort.InferenceSession(str(out / "model.onnx"))
    feeds = {
        i.name: np.array(
            [enc.ids if i.name == "input_ids" else enc.attention_mask if i.name == "attention_mask" else enc.type_ids],
            dtype=np.int64,
        )
        for i in session.get_inputs()
    }
    assert session.run(None, feeds)[0].shape == (1, 2)
    from lamina.models.export import exported_format

    assert exported_format(out) == "onnx-int8"


@pytest.mark.parametrize(
    "extra,says",
    [
        ([], "give one budget"),
        (["--speedup", "2", "--latency-ms", "5"], "one budget at a time: got --speedup and --latency-ms"),
        (["--speedup", "1"], "--speedup 1: the input model itself runs at 1x"),
        (["--max-params", "100000000"], "the input model already meets --max-params 100000000"),
        (["--max-params", str(PARAMS), "--time-budget", "0.0001"], "too small to heal anything"),
        (["--max-params", "1000"], "no shape meets --max-params 1000"),
    ],
)
def test_bad_input_is_one_error_line_and_nothing_written(extra, says, tiny_teacher, sst_like, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "compress",
            str(tiny_teacher),
            "--task",
            "sst2",
            "--data-dir",
            sst_like,
            "-o",
            str(out),
            "--speed-seq-len",
            "16",
            "--max-shapes",
            "2",
            *extra,
        ],
    )
    assert_one_line_error(result, says, code=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
