"""Distillation: student construction, the teacher-output cache, projections, end to end,
multi-teacher/noise/pre-fine-tuning, and bad input."""

from __future__ import annotations

import json

import pytest
import torch
import transformers
from conftest import STUDENT_CONFIG
from safetensors import safe_open
from typer.testing import CliRunner

from lamina.cli import app
from lamina.data.encode import padding_collator
from lamina.distillation.cache import TeacherCache
from lamina.distillation.collate import DistillCollator
from lamina.distillation.layer_map import build_layer_map
from lamina.distillation.student import build_student
from lamina.errors import LaminaError
from lamina.losses import LossContext, Needs, TeacherView, get_loss
from lamina.tasks import get_task
from lamina.workflows.distill import DistillConfig, run_distill

runner = CliRunner()


def dcfg(teacher, data_dir, out, **kw):
    teachers = [str(t) for t in teacher] if isinstance(teacher, list) else [str(teacher)]
    base = dict(
        teacher=teachers,
        task="sst2",
        output=str(out),
        data_dir=data_dir,
        epochs=6,
        lr=3e-3,
        batch_size=16,
        max_length=32,
        logging_steps=4,
        progress=False,
        cache_dir=str(out) + ".cache",
        cache_dtype="float32",
    )
    return DistillConfig(**{**base, **kw})


def test_layer_maps():
    assert build_layer_map("skip", 3, 6) == [(1, 2), (2, 4), (3, 6)]
    assert build_layer_map("last", 3, 6) == [(1, 4), (2, 5), (3, 6)]
    assert build_layer_map("first", 3, 6) == [(1, 1), (2, 2), (3, 3)]
    assert build_layer_map("0:0,1:3", 2, 6) == [(0, 0), (1, 3)]
    with pytest.raises(LaminaError, match="out of range"):
        build_layer_map("1:9", 3, 6)
    with pytest.raises(LaminaError, match="more layers"):
        build_layer_map("skip", 4, 2)


def test_student_from_teacher_copies_the_kept_layers(tiny_teacher):
    teacher = transformers.AutoModelForSequenceClassification.from_pretrained(tiny_teacher)
    tok = transformers.AutoTokenizer.from_pretrained(tiny_teacher)
    student, _, init = build_student(
        task=get_task("sst2"),
        teacher=teacher,
        teacher_tokenizer=tok,
        teacher_name="t",
        from_teacher="alternate",
        keep=2,
    )
    assert init["kept_layers"] == [0, 2]
    t_state, s_state = teacher.state_dict(), student.state_dict()
    for s_idx, t_idx in ((0, 0), (1, 2)):
        for key, value in s_state.items():
            if f"encoder.layer.{s_idx}." in key:
                torch.testing.assert_close(
                    value, t_state[key.replace(f"layer.{s_idx}.", f"layer.{t_idx}.")], rtol=0, atol=0
                )
    for key in ("bert.embeddings.word_embeddings.weight", "classifier.weight"):
        torch.testing.assert_close(s_state[key], t_state[key], rtol=0, atol=0)


def test_cached_losses_equal_online_losses(tiny_teacher, sst_like, tmp_path):
    teacher = transformers.AutoModelForSequenceClassification.from_pretrained(tiny_teacher).eval()
    tok = transformers.AutoTokenizer.from_pretrained(tiny_teacher)
    from lamina.data.encode import encode

    data = encode(get_task("sst2").load(sst_like)["train"], tok, 32)
    data = data.add_column("idx", list(range(len(data))))
    lmap = [(1, 2), (2, 4)]
    needs = Needs(teacher_logits=True, teacher_cls={2, 4}, teacher_tokens={2, 4})
    collator = DistillCollator(padding_collator(tok))
    logs = []
    # KD's logits first; a later run that needs more adds only the missing outputs to the entry
    kd_only = TeacherCache.build_or_open(
        teacher,
        data,
        collator,
        root=tmp_path,
        needs=Needs(teacher_logits=True),
        max_length=32,
        dtype="float32",
        batch_size=7,
        log=logs.append,
    )
    cache = TeacherCache.build_or_open(
        teacher,
        data,
        collator,
        root=tmp_path,
        needs=needs,
        max_length=32,
        dtype="float32",
        batch_size=7,
        log=logs.append,
    )
    assert cache.folder == kd_only.folder
    assert "computing logits for" in logs[0] and "logits" not in logs[1] and "cls_2" in logs[1], logs
    batch = collator([data[i] for i in (5, 0, 33, 17)])  # out of order, mixed lengths
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids")}
    cached = cache.view(batch["idx"], batch["input_ids"].shape[1], "cpu")
    with torch.no_grad():
        out = teacher(**inputs, output_hidden_states=True)
        student_hidden = tuple(torch.randn_like(h) for h in out.hidden_states[:3])
    online = TeacherView(
        logits=out.logits,
        cls={j: out.hidden_states[j][:, 0] for j in (2, 4)},
        tokens={j: out.hidden_states[j] for j in (2, 4)},
    )
    for view in (cached, online):
        view.layer_map, view.num_layers = lmap, 4
    for name in ("kd", "pkd", "hidden_mse", "cosine"):
        values = [
            get_loss(name)(
                LossContext(
                    student_logits=torch.randn(4, 2, generator=torch.Generator().manual_seed(0)),
                    labels=batch["labels"],
                    attention_mask=batch["attention_mask"],
                    teachers=[v],
                    student_hidden=student_hidden,
                    student_num_layers=2,
                    temperature=2.0,
                )
            )
            for v in (cached, online)
        ]
        torch.testing.assert_close(values[0], values[1], rtol=1e-5, atol=1e-6)
    # the second time the same entry is reused, and a different max length is a different entry
    again = TeacherCache.build_or_open(
        teacher, data, collator, root=tmp_path, needs=needs, max_length=32, dtype="float32", log=logs.append
    )
    assert again.folder == cache.folder and "reusing" in logs[-1]
    other = TeacherCache.build_or_open(
        teacher, data, collator, root=tmp_path, needs=needs, max_length=30, dtype="float32", log=lambda m: None
    )
    assert other.folder != cache.folder


def test_distill_beats_its_untrained_start_and_exports_only_the_student(tiny_teacher, sst_like, tmp_path):
    out = tmp_path / "student"
    cfg = dcfg(
        tiny_teacher,
        sst_like,
        out,
        student_config=STUDENT_CONFIG,
        loss="kd=1,hidden_mse=1,pkd=1",
        alpha=0.5,
        layer_map="skip",
        eval_steps=8,
        epochs=20,
    )
    start = dcfg(tiny_teacher, sst_like, tmp_path / "start", student_config=STUDENT_CONFIG, max_steps=1, lr=1e-9)
    start_acc = run_distill(start, log=lambda m: None)["metrics"]["accuracy"]
    record = run_distill(cfg, log=lambda m: None)
    assert record["metrics"]["accuracy"] >= start_acc + 0.2, (start_acc, record["metrics"])
    assert record["distill"]["projections"] == [0]  # width 16 → 32
    assert record["training"]["train_loss_last"] < record["training"]["train_loss_first"]
    with safe_open(out / "model.safetensors", "pt") as f:
        keys = list(f.keys())
    assert keys and not any("projection" in k or k.startswith("student.") for k in keys)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(out)
    assert model.config.num_hidden_layers == 2 and model.config.hidden_size == 16
    card = (out / "README.md").read_text()
    assert "Teacher(s)" in card and "hidden_mse" in card and "Scores" in card


def test_two_teachers_noise_prefinetune(tiny_teacher, sst_like, tmp_path):
    out = tmp_path / "multi"
    record = run_distill(
        dcfg(
            [tiny_teacher] * 2,
            sst_like,
            out,
            teacher_weights=[0.7, 0.3],
            student_from_teacher="top",
            keep=2,
            loss="kd=1,ce=0.5",
            noise=0.1,
            noise_side="both",
            prefinetune_epochs=1,
            max_steps=4,
        ),
        log=lambda m: None,
    )
    d = record["distill"]
    assert [t["weight"] for t in d["teachers"]] == [0.7, 0.3]
    assert d["cache"].startswith("off: noise is applied on the teacher side")
    assert d["student_init"].startswith("teacher layers [0, 1]")
    assert record["training"]["global_steps"] == 4


def test_alpha_sets_the_hinton_mix():
    cfg = DistillConfig(teacher=["t"], task="sst2", output="o", loss="kd=1,pkd=10", alpha=0.7)
    assert cfg.loss == {"kd": 0.7, "pkd": 10.0, "ce": pytest.approx(0.3)}


def _one_line_error(result, match):
    assert result.exit_code != 0, result.output
    err = result.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and match in err[0], result.stderr


@pytest.fixture(scope="module")
def other_vocab_student(tmp_path_factory):
    folder = tmp_path_factory.mktemp("other-vocab")
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a", "film", "good", "bad"]) + "\n")
    tok = transformers.BertTokenizerFast(vocab_file=str(vocab))
    cfg = transformers.BertConfig(
        vocab_size=9, hidden_size=16, num_attention_heads=2, intermediate_size=32, num_hidden_layers=1
    )
    transformers.BertForSequenceClassification(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def test_bad_input(tiny_teacher, sst_like, tmp_path, other_vocab_student):
    base = ["distill", "--task", "sst2", "--data-dir", sst_like, "--max-steps", "1", "--no-cache"]
    # across tokenizers only logit losses teach (tests/integration/test_metadistil.py trains one through kd)
    _one_line_error(
        runner.invoke(
            app,
            [
                *base,
                "--teacher",
                str(tiny_teacher),
                "--student",
                str(other_vocab_student),
                "--loss",
                "kd=1,hidden_mse=1",
                "-o",
                str(tmp_path / "a"),
            ],
        ),
        "different vocabularies",
    )
    _one_line_error(
        runner.invoke(
            app,
            [
                *base,
                "--teacher",
                str(tiny_teacher),
                "--student-config",
                STUDENT_CONFIG,
                "--loss",
                "pkd=1",
                "--layer-map",
                "1:9",
                "-o",
                str(tmp_path / "b"),
            ],
        ),
        "out of range",
    )
    _one_line_error(
        runner.invoke(
            app,
            [
                *base,
                "--teacher",
                str(tiny_teacher),
                "--student-config",
                STUDENT_CONFIG,
                "--loss",
                "attention_mse=1",
                "-o",
                str(tmp_path / "c"),
            ],
        ),
        "attention_mse needs the same number of heads: student 2, teacher",
    )
    _one_line_error(
        runner.invoke(
            app,
            ["distill", "--task", "stsb", "--teacher", str(tiny_teacher), "--loss", "kd=1", "-o", str(tmp_path / "d")],
        ),
        "regression task",
    )
    _one_line_error(
        runner.invoke(
            app,
            [
                *base,
                "--teacher",
                str(tmp_path / "missing"),
                "--student-config",
                STUDENT_CONFIG,
                "-o",
                str(tmp_path / "e"),
            ],
        ),
        "model not found",
    )
    _one_line_error(runner.invoke(app, [*base, "-o", str(tmp_path / "f")]), "at least one --teacher")
    _one_line_error(
        runner.invoke(app, [*base, "--teacher", str(tiny_teacher), "-o", str(tmp_path / "g")]), "choose one student"
    )
    _one_line_error(
        runner.invoke(
            app,
            [
                *base,
                "--teacher",
                str(tiny_teacher),
                "--student-config",
                STUDENT_CONFIG,
                "--loss",
                "kl=1",
                "-o",
                str(tmp_path / "h"),
            ],
        ),
        "unknown loss 'kl'",
    )
    assert not any(p.name in "abcdefgh" for p in tmp_path.iterdir() if p.is_dir())


def test_yaml_config_with_a_command_line_override(tiny_teacher, sst_like, tmp_path):
    cfg = tmp_path / "distill.yaml"
    cfg.write_text(
        f"teacher: [{tiny_teacher}]\ntask: sst2\ndata_dir: {sst_like}\nstudent_from_teacher: top\nkeep: 1\n"
        f"loss: kd=1,pkd=10\ntemperature: 3\nmax_steps: 2\nmax_length: 32\noutput: {tmp_path / 'from-yaml'}\n"
        f"cache_dir: {tmp_path / 'cache'}\nprogress: false\n"
    )
    result = runner.invoke(app, ["distill", "--config", str(cfg), "--temperature", "4"])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "from-yaml" / "lamina_results.json").read_text())
    assert record["config"]["temperature"] == 4.0 and record["config"]["loss"] == {"kd": 1.0, "pkd": 10.0}
    assert record["sizes"]["layers"] == 1
    bad = tmp_path / "bad.yaml"
    bad.write_text("teacher: [x]\ntask: sst2\noutput: o\ntemprature: 3\n")
    _one_line_error(runner.invoke(app, ["distill", "--config", str(bad)]), "temprature")


def test_fixed_shape_padding(tiny_teacher):
    tok = transformers.AutoTokenizer.from_pretrained(tiny_teacher)
    features = [dict(tok("short"), label=0, idx=0), dict(tok("a somewhat longer sentence here"), label=1, idx=1)]
    fixed = DistillCollator(padding_collator(tok, pad_to_max_length=True, max_length=24))
    dynamic = DistillCollator(padding_collator(tok))
    assert fixed(features)["input_ids"].shape == (2, 24)
    assert dynamic(features)["input_ids"].shape == (2, len(features[1]["input_ids"]))
    assert fixed(features)["idx"].tolist() == [0, 1]


def test_resume_with_another_loss_mix_or_teacher_is_refused(tiny_teacher, sst_like, tmp_path):
    from transformers import TrainerCallback

    class CrashAt3(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 3:
                raise RuntimeError("simulated crash")

    out = tmp_path / "s"
    cfg = dcfg(tiny_teacher, sst_like, out, student_config=STUDENT_CONFIG, loss="kd=1", max_steps=4, eval_steps=2)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_distill(cfg, callbacks=[CrashAt3()], log=lambda m: None)
    work = tmp_path / "s.work"
    before = sorted(p.relative_to(work) for p in work.rglob("*"))
    assert any(p.name == "checkpoint-2" for p in work.iterdir())
    for change, says in (
        ({"loss": "kd=1,ce=1"}, "loss {'kd': 1.0, 'ce': 1.0} (was {'kd': 1.0})"),
        ({"temperature": 4.0}, "temperature 4.0 (was 2.0)"),
    ):
        with pytest.raises(LaminaError, match="other settings than the interrupted run's") as err:
            run_distill(DistillConfig(**{**cfg.model_dump(), "resume": True, **change}), log=lambda m: None)
        assert says in str(err.value), str(err.value)
    assert sorted(p.relative_to(work) for p in work.rglob("*")) == before
    record = run_distill(cfg.model_copy(update={"resume": True}), log=lambda m: None)
    assert record["training"]["resumed_from"] == "checkpoint-2" and out.is_dir()
