"""MetaDistil (``--method metadistil``) and teachers with another tokenizer, on tiny models.

The meta-gradient is checked against a finite-difference estimate in float64; the ``fd``
form against the exact one; the ``mixed`` form equals the exact one (soft losses ``kd`` and
``prob_mse``, two teachers, dropout on, the forward-mode and the double-backward Jacobian-vector
products, in a real run with hidden-state losses); a pilot step of 0 gives the teacher nothing. End to end: the
teacher changes and the student learns, resuming after an interruption gives the weights
of an uninterrupted run, the quiz set is held out of what the student trains on, and bad
input is one error line with nothing written.
"""

from __future__ import annotations

import json

import pytest
import torch
import transformers
from conftest import STUDENT_CONFIG
from safetensors.torch import load_file
from torch.func import functional_call
from typer.testing import CliRunner

from lamina.cli import app
from lamina.distillation.methods.metadistil import PilotTape, _Taped, meta_gradient, split_off
from lamina.distillation.trainer import DistillModule
from lamina.losses.functional import cross_entropy, soft_target_kd, softened_probability_mse
from lamina.workflows.distill import DistillConfig, run_distill

runner = CliRunner()


def _tiny(layers: int, hidden: int, seed: int, dropout: float = 0.0, attention: str = "eager"):
    torch.manual_seed(seed)
    cfg = transformers.BertConfig(
        vocab_size=50,
        hidden_size=hidden,
        num_attention_heads=2,
        intermediate_size=2 * hidden,
        num_hidden_layers=layers,
        hidden_dropout_prob=dropout,
        attention_probs_dropout_prob=dropout,
        attn_implementation=attention,
    )
    return transformers.BertForSequenceClassification(cfg).double().eval()


def _batches():
    """(a training batch with padding, its labels, a quiz batch, its labels): seeded."""
    g = torch.Generator().manual_seed(0)
    batch = {
        "input_ids": torch.randint(5, 50, (6, 7), generator=g),
        "attention_mask": torch.ones(6, 7, dtype=torch.long),
    }
    batch["attention_mask"][0, 4:] = 0
    labels = torch.randint(0, 2, (6,), generator=g)
    quiz = {
        "input_ids": torch.randint(5, 50, (5, 6), generator=g),
        "attention_mask": torch.ones(5, 6, dtype=torch.long),
    }
    return batch, labels, quiz, torch.randint(0, 2, (5,), generator=g)


def _meta_problem(dtype=torch.float64):
    """(teacher, student, teacher parameters, pilot loss, quiz loss) of the seeded tiny problem in ``dtype``."""
    teacher, student = _tiny(2, 16, 0).to(dtype), _tiny(1, 8, 1).to(dtype)
    batch, labels, quiz, quiz_labels = _batches()
    teacher_params = list(teacher.parameters())

    def pilot(p):
        s = functional_call(student, p, args=(), kwargs=batch).logits
        return soft_target_kd(s, teacher(**batch).logits, 2.0) + cross_entropy(s, labels)

    def quiz_loss(p):
        return cross_entropy(functional_call(student, p, args=(), kwargs=quiz).logits, quiz_labels)

    return teacher, student, teacher_params, pilot, quiz_loss


@pytest.fixture(scope="module")
def meta_problem():
    return _meta_problem()


def _flat(grads):
    return torch.cat([g.reshape(-1) for g in grads])


def _cos(a, b):
    return float(torch.dot(a, b) / (a.norm() * b.norm()))


def test_exact_meta_gradient_matches_a_finite_difference_estimate(meta_problem):
    teacher, student, teacher_params, pilot, quiz_loss = meta_problem
    lr = 0.5
    for p in teacher_params:
        p.requires_grad_(True)
    exact = _flat(meta_gradient(dict(student.named_parameters()), teacher_params, pilot, quiz_loss, pilot_lr=lr))

    def objective(shift, direction):  # the quiz loss after the pilot step, the teacher moved along `direction`
        with torch.no_grad():
            for p, d in zip(teacher_params, direction):
                p.add_(shift * d)
        try:
            params = dict(student.named_parameters())
            grads = torch.autograd.grad(pilot(params), list(params.values()))
            fast = {n: v - lr * g for (n, v), g in zip(params.items(), grads)}
            return float(quiz_loss(fast).detach())
        finally:
            with torch.no_grad():
                for p, d in zip(teacher_params, direction):
                    p.sub_(shift * d)

    g = torch.Generator().manual_seed(1)
    analytic, numeric = [], []
    for _ in range(6):
        direction = [torch.randn(p.shape, generator=g, dtype=p.dtype) for p in teacher_params]
        h = 1e-5
        numeric.append((objective(h, direction) - objective(-h, direction)) / (2 * h))
        analytic.append(float(torch.dot(exact, _flat(direction))))
    assert _cos(torch.tensor(analytic), torch.tensor(numeric)) >= 0.999, (analytic, numeric)
    assert exact.abs().sum() > 0


def test_fd_meta_gradient_agrees_with_exact_and_pilot_lr_zero_gives_nothing(meta_problem):
    teacher, student, teacher_params, pilot, quiz_loss = meta_problem
    for p in teacher_params:
        p.requires_grad_(True)
    params = dict(student.named_parameters())
    exact = _flat(meta_gradient(params, teacher_params, pilot, quiz_loss, pilot_lr=0.5, mode="exact"))
    fd = _flat(meta_gradient(params, teacher_params, pilot, quiz_loss, pilot_lr=0.5, mode="fd"))
    assert float((fd - exact).norm() / exact.norm()) < 1e-6  # DARTS' fixed step 0.01 / |v| gave 2.8e-3
    for mode in ("exact", "fd"):
        zero = _flat(meta_gradient(params, teacher_params, pilot, quiz_loss, pilot_lr=0.0, mode=mode))
        assert float(zero.abs().max()) == 0.0, mode


def test_fd_meta_gradient_in_float32_is_within_1e_3_of_exact():
    teacher, student, teacher_params, pilot, quiz_loss = _meta_problem(torch.float32)
    params = dict(student.named_parameters())
    exact, fd = (
        _flat(meta_gradient(params, teacher_params, pilot, quiz_loss, pilot_lr=0.5, mode=m)) for m in ("exact", "fd")
    )
    assert exact.dtype == torch.float32 and float((fd - exact).norm() / exact.norm()) < 1e-3


def _mixed_problem(loss: str, teachers: int, dropout: float = 0.0, attention: str = "eager"):
    """(student params, teacher params, pilot, pilot tape, quiz loss): the pilot loss is
    ``loss`` (+ CE) against the mean of ``teachers`` teachers' logits; with dropout the student
    trains (dropout on in the pilot, off in the quiz), as in a run."""
    models = [_tiny(2, 16, 10 + i, attention=attention) for i in range(teachers)]
    student = _tiny(1, 8, 1, dropout=dropout, attention=attention)
    student.train(dropout > 0)
    module = DistillModule(student)
    batch, labels, quiz, quiz_labels = _batches()
    soft = {"kd": soft_target_kd, "prob_mse": softened_probability_mse}[loss]

    def loss_of(student_logits):
        teacher_logits = sum(t(**batch).logits for t in models) / len(models)
        return soft(student_logits, teacher_logits, 2.0) + cross_entropy(student_logits, labels)

    def pilot(p):
        torch.manual_seed(5)  # the same dropout masks in every pilot forward
        return loss_of(functional_call(student, p, args=(), kwargs=batch).logits)

    def tape(p):
        torch.manual_seed(5)
        taped = _Taped(module, p)
        loss = loss_of(taped(**batch).logits)
        return PilotTape(loss, taped.leaves, taped.outputs, taped.replay)

    def quiz_loss(p):
        was = student.training
        student.eval()
        try:
            return cross_entropy(functional_call(student, p, args=(), kwargs=quiz).logits, quiz_labels)
        finally:
            student.train(was)

    teacher_params = [p for t in models for p in t.parameters()]
    for p in teacher_params:
        p.requires_grad_(True)
    return dict(student.named_parameters()), teacher_params, pilot, tape, quiz_loss


def _assert_same(a, b):
    assert float(a.norm()) > 0
    assert _cos(a, b) >= 0.9999 and float((a - b).norm() / b.norm()) <= 1e-4, (_cos(a, b), float((a - b).norm()))


@pytest.mark.parametrize("loss,teachers", [("kd", 1), ("prob_mse", 1), ("kd", 2), ("prob_mse", 2)])
def test_mixed_meta_gradient_equals_exact(loss, teachers):
    params, teacher_params, pilot, tape, quiz_loss = _mixed_problem(loss, teachers)
    exact = _flat(meta_gradient(params, teacher_params, pilot, quiz_loss, pilot_lr=0.5, mode="exact"))
    taped = _flat(meta_gradient(params, teacher_params, pilot, quiz_loss, pilot_lr=0.5, mode="mixed", pilot_tape=tape))
    general = _flat(meta_gradient(params, teacher_params, pilot, quiz_loss, pilot_lr=0.5, mode="mixed"))
    _assert_same(taped, exact)
    _assert_same(general, exact)
    if teachers == 2:  # each teacher gets its own share, not a copy of the other's
        half = len(teacher_params) // 2
        first = _flat(
            meta_gradient(params, teacher_params[:half], pilot, quiz_loss, pilot_lr=0.5, mode="mixed", pilot_tape=tape)
        )
        assert float(first.norm()) > 0 and not torch.allclose(first, taped[first.numel() :])
    for kw in ({"pilot_tape": tape}, {}):
        zero = _flat(meta_gradient(params, teacher_params, pilot, quiz_loss, pilot_lr=0.0, mode="mixed", **kw))
        assert float(zero.abs().max()) == 0.0


@pytest.mark.parametrize("attention", ["eager", "sdpa"])
def test_mixed_equals_exact_with_dropout_on_and_either_attention(attention, monkeypatch):
    """The replay of the student's forward pass for the Jacobian-vector product draws the
    pilot's dropout masks again; and the RNG stream goes on as if there had been no replay.
    Forward-mode AD goes through both attention implementations (no fallback taken)."""
    import lamina.distillation.methods.metadistil as md

    done, real = [], md.jvp
    monkeypatch.setattr(md, "jvp", lambda *a, **k: (real(*a, **k), done.append(1))[0])
    params, teacher_params, pilot, tape, quiz_loss = _mixed_problem("kd", 1, dropout=0.3, attention=attention)
    exact = _flat(meta_gradient(params, teacher_params, pilot, quiz_loss, pilot_lr=0.5, mode="exact"))
    after_exact = torch.rand(3)
    mixed = _flat(meta_gradient(params, teacher_params, pilot, quiz_loss, pilot_lr=0.5, mode="mixed", pilot_tape=tape))
    assert done == [1], "the forward-mode product returned"
    assert torch.equal(torch.rand(3), after_exact)
    _assert_same(mixed, exact)

    def other_masks(p):  # a replay that draws other dropout masks than the pilot did
        out = tape(p)
        torch.manual_seed(99)
        out.replay.__self__.rng = (torch.get_rng_state(), None)
        return out

    off = _flat(
        meta_gradient(params, teacher_params, pilot, quiz_loss, pilot_lr=0.5, mode="mixed", pilot_tape=other_masks)
    )
    assert float((off - exact).norm() / exact.norm()) > 1e-3, float((off - exact).norm() / exact.norm())


def test_mixed_falls_back_to_a_double_backward_without_forward_mode_ad(monkeypatch):
    import lamina.distillation.methods.metadistil as md

    params, teacher_params, pilot, tape, quiz_loss = _mixed_problem("prob_mse", 2, dropout=0.3)
    exact = _flat(meta_gradient(params, teacher_params, pilot, quiz_loss, pilot_lr=0.5, mode="exact"))
    calls = []

    def no_forward_mode(*a, **k):
        calls.append(1)
        raise NotImplementedError("trying to use forward AD with an operation that does not support it")

    monkeypatch.setattr(md, "jvp", no_forward_mode)
    mixed = _flat(meta_gradient(params, teacher_params, pilot, quiz_loss, pilot_lr=0.5, mode="mixed", pilot_tape=tape))
    assert calls, "the forward-mode product was tried first"
    _assert_same(mixed, exact)


# ---------------------------------------------------------------- end to end


def _cfg(teacher, data_dir, out, **kw):
    base = dict(
        teacher=[str(teacher)],
        task="sst2",
        output=str(out),
        data_dir=data_dir,
        student_config=STUDENT_CONFIG,
        method="metadistil",
        loss={"prob_mse": 1.0, "ce": 1.0},
        max_steps=6,
        eval_steps=3,
        batch_size=8,
        lr=3e-3,
        max_length=24,
        logging_steps=1,
        progress=False,
        method_options={"quiz_size": 8, "pilot_lr": 0.5, "teacher_lr": 1e-3},
    )
    return DistillConfig(**{**base, **kw, "method_options": {**base["method_options"], **kw.get("method_options", {})}})


def test_metadistil_changes_the_teacher_and_trains_the_student(tiny_teacher, sst_like, tmp_path):
    out, saved = tmp_path / "md", tmp_path / "taught"
    result = runner.invoke(
        app,
        [
            "distill",
            "--method",
            "metadistil",
            "--teacher",
            str(tiny_teacher),
            "--task",
            "sst2",
            "-o",
            str(out),
            "--data-dir",
            sst_like,
            "--student-config",
            STUDENT_CONFIG,
            "--loss",
            "kd=1,ce=1",
            "--max-steps",
            "6",
            "--batch-size",
            "8",
            "--lr",
            "3e-3",
            "--max-length",
            "24",
            "--logging-steps",
            "1",
            "--quiz-size",
            "8",
            "--pilot-lr",
            "0.5",
            "--teacher-lr",
            "1e-3",
            "--meta-grad",
            "fd",
            "--save-teacher",
            str(saved),
        ],
    )
    assert result.exit_code == 0, result.output
    record = json.loads((out / "lamina_results.json").read_text())
    d = record["distill"]
    assert d["method"] == "metadistil" and d["method_record"]["meta_rounds"] == 6
    assert d["method_record"]["quiz_examples"] == 8 and record["training"]["train_examples"] == 56
    assert d["cache"].startswith("off: method 'metadistil'") and "metadistil" in (out / "README.md").read_text()
    assert record["training"]["train_loss_last"] < record["training"]["train_loss_first"]
    before = load_file(str(tiny_teacher / "model.safetensors"))
    after = transformers.AutoModelForSequenceClassification.from_pretrained(saved).state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before if k in after), "the teacher learned"
    assert sum(torch.equal(before[k], after[k]) for k in before if k in after) < len(before)


@pytest.mark.parametrize("loss", [{"kd": 1.0, "ce": 1.0}, {"prob_mse": 1.0, "hidden_mse": 1.0, "ce": 1.0}])
def test_mixed_gives_the_exact_teacher_gradient_in_a_run(tiny_teacher, sst_like, tmp_path, loss, monkeypatch):
    """The trainer's tape: the student's outputs (logits; hidden states and their projections to
    the teacher's width for hidden_mse) with dropout on, as the run computes them."""
    import lamina.distillation.methods.metadistil as md

    products, real = [], md._student_jvp
    monkeypatch.setattr(
        md, "_student_jvp", lambda tape, index, *a: products.append(len(index)) or real(tape, index, *a)
    )
    student = json.loads(STUDENT_CONFIG) | {"hidden_dropout_prob": 0.2, "attention_probs_dropout_prob": 0.2}
    norms = {}
    for mode in ("exact", "mixed"):
        cfg = _cfg(
            tiny_teacher,
            sst_like,
            tmp_path / mode,
            loss=loss,
            max_steps=1,
            student_config=json.dumps(student),
            method_options={"meta_grad": mode},
        )
        record = run_distill(cfg, log=lambda m: None)
        assert record["distill"]["method_record"]["meta_grad"] == mode
        norms[mode] = record["distill"]["method_record"]["last_teacher_grad_norm"]
    # one product a round, mixed only: over the logits, or also the hidden states the loss reads
    assert len(products) == 1 and (products[0] > 1) == ("hidden_mse" in loss), products
    assert norms["exact"] > 0 and abs(norms["mixed"] - norms["exact"]) <= 1e-4 * norms["exact"], norms


def test_resuming_metadistil_gives_the_weights_of_an_uninterrupted_run(tiny_teacher, sst_like, tmp_path):
    from transformers import TrainerCallback

    whole = _cfg(tiny_teacher, sst_like, tmp_path / "whole", method_options={"save_teacher": str(tmp_path / "tw")})
    run_distill(whole, log=lambda m: None)

    class Stop(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            if state.global_step == 3:  # after checkpoint-3 was written
                raise KeyboardInterrupt

    cut = _cfg(tiny_teacher, sst_like, tmp_path / "cut", method_options={"save_teacher": str(tmp_path / "tc")})
    with pytest.raises(KeyboardInterrupt):
        run_distill(cut, callbacks=[Stop()], log=lambda m: None)
    assert (tmp_path / "cut.work" / "checkpoint-3" / "teacher_optimizer.safetensors").is_file()
    run_distill(cut.model_copy(update={"resume": True}), log=lambda m: None)
    for a, b in ((tmp_path / "whole", tmp_path / "cut"), (tmp_path / "tw", tmp_path / "tc")):
        wa, wb = load_file(str(a / "model.safetensors")), load_file(str(b / "model.safetensors"))
        assert wa.keys() == wb.keys()
        for k in wa:
            torch.testing.assert_close(wa[k], wb[k], rtol=0, atol=1e-6, msg=k)


def test_the_quiz_set_is_held_out_of_training_and_stratified():
    from datasets import Dataset

    rows = Dataset.from_dict({"row": list(range(200)), "label": [i % 4 == 0 for i in range(200)]})
    rows = rows.cast_column("label", __import__("datasets").Value("int64"))
    rest, quiz = split_off(rows, 20, seed=3)
    assert len(quiz) == 20 and len(rest) == 180
    assert not set(quiz["row"]) & set(rest["row"])
    assert sum(quiz["label"]) == 5, "stratified: a quarter of the quiz is label 1, as in the data"
    again, quiz2 = split_off(rows, 20, seed=3)
    assert quiz2["row"] == quiz["row"], "seeded"


def test_quiz_never_touches_dev_and_leaves_the_train_rows(tiny_teacher, sst_like, tmp_path):
    from lamina.distillation.methods.metadistil import MetaDistil, MetaDistilOptions
    from lamina.tasks import get_task
    from lamina.tasks.objectives import PrepSettings, objective_for

    task = get_task("sst2")
    tok = transformers.AutoTokenizer.from_pretrained(tiny_teacher)
    cfg = _cfg(tiny_teacher, sst_like, tmp_path / "x")
    data = objective_for(task).prepare(task, task.load(sst_like), tok, PrepSettings.of(cfg))
    train, extra = MetaDistil.split_training_set(
        data.train, cfg=cfg, task=task, tokenizer=tok, options=MetaDistilOptions(quiz_size=8), log=lambda m: None
    )
    as_text = lambda ds: {tuple(x) for x in ds["input_ids"]}  # noqa: E731
    assert len(extra["quiz"]) == 8 and len(train) == len(data.train) - 8
    assert not as_text(extra["quiz"]) & as_text(train)
    assert as_text(extra["quiz"]) <= as_text(data.train), "the quiz comes from the training split"


# ---------------------------------------------------------------- a teacher with another tokenizer


@pytest.fixture(scope="module")
def other_tokenizer_teacher(tmp_path_factory, sst_like):
    """A tiny classifier with its own word-level vocabulary, fine-tuned on the synthetic SST-2 slice."""
    from lamina.workflows.finetune import FinetuneConfig, run_finetune

    words = sorted(
        {
            w
            for line in (open(f"{sst_like}/SST-2/train.tsv").read().splitlines()[1:])
            for w in line.split("\t")[0].split()
        }
    )
    base = tmp_path_factory.mktemp("own-vocab")
    (base / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    tok = transformers.BertTokenizerFast(vocab_file=str(base / "vocab.txt"))
    torch.manual_seed(0)
    cfg = transformers.BertConfig(
        vocab_size=len(tok), hidden_size=24, num_attention_heads=2, intermediate_size=48, num_hidden_layers=4
    )
    init = base / "init"
    transformers.BertForSequenceClassification(cfg).save_pretrained(init)
    tok.save_pretrained(init)
    out = base / "teacher"
    run_finetune(
        FinetuneConfig(
            model=str(init),
            task="sst2",
            output=str(out),
            data_dir=sst_like,
            epochs=8,
            lr=3e-3,
            batch_size=16,
            max_length=24,
            progress=False,
        )
    )
    return out


@pytest.mark.parametrize("cache", [True, False])
def test_a_teacher_with_another_tokenizer_teaches_through_kd(
    other_tokenizer_teacher, tiny_teacher, sst_like, tmp_path, cache
):
    from lamina.distillation.teachers import teacher_view_of

    t_tok = transformers.AutoTokenizer.from_pretrained(other_tokenizer_teacher)
    s_tok = transformers.AutoTokenizer.from_pretrained(tiny_teacher)
    assert t_tok.get_vocab() != s_tok.get_vocab()
    seen = {}
    import lamina.distillation.teachers as teachers_mod

    real = teachers_mod.add_teacher_tokenization

    def spy(train, rows, i, tokenizer, max_length):
        out = real(train, rows, i, tokenizer, max_length)
        seen["student"] = out[0]["input_ids"]
        seen["teacher"] = teacher_view_of(out.add_column("idx", list(range(len(out)))), i)[0]["input_ids"]
        seen["text"] = rows[0]["text"]
        return out

    teachers_mod.add_teacher_tokenization = spy
    try:
        cfg = DistillConfig(
            teacher=[str(other_tokenizer_teacher)],
            student=str(tiny_teacher),
            task="sst2",
            output=str(tmp_path / "s"),
            data_dir=sst_like,
            loss={"kd": 1.0},
            max_steps=6,
            batch_size=8,
            lr=3e-3,
            max_length=24,
            logging_steps=1,
            progress=False,
            cache=cache,
            cache_dir=str(tmp_path / "c"),
            cache_dtype="float32",
        )
        record = run_distill(cfg, log=lambda m: None)
    finally:
        teachers_mod.add_teacher_tokenization = real
    # both tokenizations of the same row: each model reads the text with its own tokenizer
    assert seen["student"] == s_tok(seen["text"], truncation=True, max_length=24)["input_ids"]
    assert seen["teacher"] == t_tok(seen["text"], truncation=True, max_length=24)["input_ids"]
    assert seen["student"] != seen["teacher"]
    assert record["distill"]["teachers"][0]["tokenizer"].startswith("its own")
    assert record["distill"]["cache"].startswith("on" if cache else "off")
    assert record["training"]["train_loss_last"] < record["training"]["train_loss_first"]


def test_hidden_losses_across_tokenizers_are_refused(other_tokenizer_teacher, tiny_teacher, sst_like, tmp_path):
    result = runner.invoke(
        app,
        [
            "distill",
            "--teacher",
            str(other_tokenizer_teacher),
            "--student",
            str(tiny_teacher),
            "--task",
            "sst2",
            "--data-dir",
            sst_like,
            "--loss",
            "kd=1,hidden_mse=1",
            "-o",
            str(tmp_path / "o"),
        ],
    )
    assert result.exit_code == 2, result.output
    line = result.stderr.strip()
    assert line.startswith("error: ") and "\n" not in line
    assert "different vocabularies" in line and "hidden_mse" in line and "only logit losses" in line
    assert not (tmp_path / "o").exists()


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "extra,match",
    [
        (["--quiz-size", "64"], "leaves no training examples"),
        (["--loss", "ce=1"], "needs a loss that reads the teachers' logits"),
        (["--loss", "hidden_mse=1"], "needs a loss that reads the teachers' logits"),
        (["--teacher-lr", "0"], "--teacher-lr: must be more than 0"),
        (["--meta-every", "0"], "--meta-every: must be 1 or more"),
        (["--method-option", "meta_every=0"], "--meta-every: must be 1 or more"),
        (["--meta-grad", "second"], "--meta-grad"),
    ],
)
def test_bad_metadistil_input_is_one_error_line_and_no_output(tiny_teacher, sst_like, tmp_path, extra, match):
    out = tmp_path / "o"
    args = [
        "distill",
        "--method",
        "metadistil",
        "--teacher",
        str(tiny_teacher),
        "--task",
        "sst2",
        "--data-dir",
        sst_like,
        "--student-config",
        STUDENT_CONFIG,
        "--max-steps",
        "1",
        "-o",
        str(out),
        *extra,
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and match in lines[0], lines
    assert not out.exists() and not (tmp_path / "o.work").exists()


def test_unknown_method_and_a_setting_of_another_method(tiny_teacher, tmp_path):
    r = runner.invoke(app, ["distill", "--method", "meta", "--teacher", str(tiny_teacher), "-o", str(tmp_path / "o")])
    assert r.exit_code == 2 and "unknown distillation method 'meta'; available: metadistil, seqkd, standard" in r.stderr
    r = runner.invoke(app, ["distill", "--teacher", str(tiny_teacher), "--pilot-lr", "0.1", "-o", str(tmp_path / "o")])
    assert r.exit_code == 2 and "--pilot-lr is a setting of --method metadistil" in r.stderr


def test_metadistil_with_two_teachers_one_with_another_tokenizer(
    other_tokenizer_teacher, tiny_teacher, sst_like, tmp_path
):
    """Seed 004's BERT + RoBERTa row in miniature: both teachers get a meta-gradient through the
    averaged logits, the foreign one reading its own tokenization of the same rows."""
    saved = tmp_path / "taught"
    cfg = DistillConfig(
        teacher=[str(tiny_teacher), str(other_tokenizer_teacher)],
        student=str(tiny_teacher),
        task="sst2",
        output=str(tmp_path / "s"),
        data_dir=sst_like,
        method="metadistil",
        loss={"kd": 0.5, "ce": 0.5},
        max_steps=3,
        batch_size=8,
        lr=3e-3,
        max_length=24,
        progress=False,
        noise=0.2,
        method_options={"quiz_size": 8, "pilot_lr": 0.5, "teacher_lr": 1e-2, "save_teacher": str(saved)},
    )
    record = run_distill(cfg, log=lambda m: None)
    assert record["distill"]["method_record"]["meta_rounds"] == 3
    for i, original in enumerate((tiny_teacher, other_tokenizer_teacher)):
        before = load_file(str(original / "model.safetensors"))
        after = load_file(str(saved / f"teacher-{i}" / "model.safetensors"))
        assert any(not torch.equal(before[k], after[k]) for k in before if k in after), f"teacher {i} learned"
