"""Every setting a command offers is read by that command: no inherited flag that nothing applies.

Each registered command runs once on tiny inputs through the CLI while every read of a settings
field is recorded (``Settings.__getattribute__``; validators count, a whole-config dump does not);
then each field of the command's config must have been read, save the few that only one path of
the command reads, listed with that path. A new command must join the table below.

A read is not an application: a setting read only to be passed on and ignored (lottery used to
hand --layerdrop to the TrainingArguments builder and never apply it; it now refuses it) passes
here. What this catches is the setting nothing in the command touches at all.
"""

from __future__ import annotations

import json
import random
from contextlib import contextmanager

import pytest
import transformers
from conftest import LETTERS, tiny_llama
from typer.testing import CliRunner

from lamina.cli import app
from lamina.config import Settings
from lamina.workflows import WORKFLOWS

runner = CliRunner()

# fields only some paths read, by command: the path that reads each one
CONDITIONAL = {
    "*": {"overwrite": "an existing output", "resume": "read by training commands' work folder", "config": ""},
    "eval": {
        "strategy": "--depths",
        "strategy_options": "--depths",
        "threads": "speed timing (--speed)",
        "speed_seq_len": "--speed",
        "speed_batch_sizes": "--speed",
        "logit_bias": "image tasks",
        "backend": "an export",
    },
    "prune": {
        "keep_decoder": "encoder-decoders",
        "keep_layers": "--keep-layers",
        "strategy_options": "a strategy with options",
        "calib_data": "a data-driven strategy or activation importance",
        "calib_samples": "a data-driven strategy or activation importance",
        "data_dir": "a GLUE calibration source",
        "speed_seq_len": "--speed",
        "speed_batch_size": "--speed",
        "importance": "--ffn/--heads/--hidden",
    },
    "inspect": {"data_dir": "a GLUE calibration source", "importance": "--width"},
    "export": {"data_dir": "--task", "max_samples": "--task", "seed": "--task", "batch_size": "--task"},
    "distill": {
        "keep_decoder": "encoder-decoder teachers",
        "strategy_options": "a strategy with options",
        "student": "--student",
        "student_config": "--student-config",
        "student_first_n": "--student-first-n",
        "teacher_weights": "several teachers",
        "mask_init": "--mask",
        "importance": "--ffn/--heads/--hidden",
        "noise_side": "--noise",
        "cache_dir": "the teacher cache",
        "cache_dtype": "the teacher cache",
    },
    "finetune": {"init_config": "", "mask_init": "--mask"},
    "lifelong": {"teacher_dir": "KD methods or --teacher-split", "temperature": "word-kd / seq-kd-soft"},
    "serve": {},
    "compress": {"task_options": "a task with options"},
}


@contextmanager
def field_reads():
    """(config class name, field) of every read of a settings field while it runs."""
    seen: set[tuple[str, str]] = set()
    plain = Settings.__getattribute__

    def tracking(self, name):
        fields = type(self).__dict__.get("__pydantic_fields__") or {}
        if name in fields:
            seen.add((type(self).__name__, name))
        return plain(self, name)

    Settings.__getattribute__ = tracking
    try:
        yield seen
    finally:
        Settings.__getattribute__ = plain


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, tiny_bert_with_tokenizer, sst_like, tiny_teacher):
    from lamina.data.bpe import train_bpe

    folder = tmp_path_factory.mktemp("reads")
    corpus = folder / "corpus.txt"
    corpus.write_text("the cat sat on the mat .\n" * 60)
    tok = train_bpe([" ".join(LETTERS)] * 4, vocab_size=300, max_length=64)
    bart = transformers.BartForConditionalGeneration(
        transformers.BartConfig(
            vocab_size=len(tok),
            d_model=16,
            encoder_layers=1,
            decoder_layers=1,
            encoder_attention_heads=2,
            decoder_attention_heads=2,
            encoder_ffn_dim=32,
            decoder_ffn_dim=32,
            max_position_embeddings=64,
            pad_token_id=0,
            bos_token_id=1,
            eos_token_id=2,
            decoder_start_token_id=1,
            forced_eos_token_id=None,
        )
    )
    bart.save_pretrained(folder / "bart")
    tok.save_pretrained(folder / "bart")
    rng = random.Random(0)
    rows = "".join(f"{LETTERS[i]}\t{LETTERS[i]} {LETTERS[i + 1]}\n" for i in (rng.randrange(10) for _ in range(16)))
    (folder / "pairs.tsv").write_text("source\ttarget\n" + rows)
    llama = tiny_llama(
        len(tok),
        hidden_size=16,
        num_attention_heads=2,
        num_key_value_heads=1,
        intermediate_size=32,
        num_hidden_layers=2,
        max_position_embeddings=64,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    llama.save_pretrained(folder / "llama")
    tok.save_pretrained(folder / "llama")
    for kind in ("copy", "next"):
        with open(folder / f"{kind}.jsonl", "w") as f:
            for i in range(12):
                f.write(
                    json.dumps(
                        {"context": f"{LETTERS[i % 9]} {LETTERS[i % 7]}", "question": "which", "answer": LETTERS[i % 9]}
                    )
                    + "\n"
                )
    return {
        "model": str(tiny_bert_with_tokenizer),
        "data": sst_like,
        "teacher": str(tiny_teacher),
        "corpus": str(corpus),
        "bart": str(folder / "bart"),
        "pairs": str(folder / "pairs.tsv"),
        "llama": str(folder / "llama"),
        "folder": folder,
    }


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _runs(i: dict, out) -> dict[str, list[str]]:
    short = ["--max-steps", "2", "--batch-size", "8", "--max-length", "16", "--no-progress"]
    return {
        "compress": [
            "compress",
            i["teacher"],
            "--task",
            "sst2",
            "--data-dir",
            i["data"],
            "-o",
            str(out / "c"),
            "--max-params",
            "1008000",
            "--max-steps",
            "1",
            "--batch-size",
            "16",
            "--max-length",
            "16",
            "--speed-seq-len",
            "16",
            "--max-shapes",
            "2",
            "--heal",
            "1",
            "--probe-samples",
            "8",
            "--max-train-samples",
            "16",
            "--max-eval-samples",
            "8",
        ],
        "data": ["data", "sst2", "--data-dir", i["data"], "--model", i["model"]],
        "inspect": ["inspect", i["model"], "--calib-samples", "8", "--max-length", "16", "--json", str(out / "i.json")],
        "prune": [
            "prune",
            i["model"],
            "-o",
            str(out / "p"),
            "--strategy",
            "contribution",
            "--drop",
            "1",
            "--calib-samples",
            "8",
            "--max-length",
            "16",
            "--ffn",
            "32",
            "--no-speed",
        ],
        "eval": [
            "eval",
            i["model"],
            "--task",
            "sst2",
            "--data-dir",
            i["data"],
            "--max-samples",
            "8",
            "--max-length",
            "16",
            "--batch-size",
            "8",
            "--split",
            "dev",
            "--no-speed",
            "--seed",
            "1",
            "--json",
            str(out / "e.json"),
            "-o",
            str(out / "e"),
        ],
        "finetune": [
            "finetune",
            i["model"],
            "--task",
            "sst2",
            "--data-dir",
            i["data"],
            "-o",
            str(out / "f"),
            *short,
            "--max-train-samples",
            "16",
            "--max-eval-samples",
            "8",
        ],
        "distill": [
            "distill",
            "--teacher",
            i["teacher"],
            "--task",
            "sst2",
            "--data-dir",
            i["data"],
            "-o",
            str(out / "d"),
            "--student-from-teacher",
            "top",
            "--keep",
            "1",
            "--ffn",
            "32",
            *short,
            "--max-train-samples",
            "16",
        ],
        "pretrain": [
            "pretrain",
            "--corpus",
            i["corpus"],
            "--tokenizer",
            i["model"],
            "-o",
            str(out / "pt"),
            "--num-layers",
            "1",
            "--hidden-size",
            "16",
            "--num-heads",
            "2",
            *short,
        ],
        "lottery": [
            "lottery",
            i["model"],
            "--task",
            "sst2",
            "--data-dir",
            i["data"],
            "-o",
            str(out / "l"),
            "--mode",
            "oneshot",
            *short,
            "--max-train-samples",
            "16",
        ],
        "export": [
            "export",
            i["model"],
            "-o",
            str(out / "x"),
            "--format",
            "onnx",
            "--parity-samples",
            "4",
            "--max-length",
            "16",
        ],
        "generate-targets": [
            "generate-targets",
            i["bart"],
            "--task",
            "pairs",
            "--train-file",
            i["pairs"],
            "--validation-file",
            i["pairs"],
            "-o",
            str(out / "g"),
            "--num-beams",
            "1",
            "--max-length",
            "12",
            "--max-new-tokens",
            "4",
            "--cache-dir",
            str(out / "nb"),
        ],
        "lifelong": [
            "lifelong",
            i["llama"],
            "--tasks",
            "copy,next",
            "--text-file",
            f"copy={i['folder'] / 'copy.jsonl'}",
            "--text-file",
            f"next={i['folder'] / 'next.jsonl'}",
            "-o",
            str(out / "ll"),
            "--method",
            "lamol",
            "--max-steps",
            "1",
            "--batch-size",
            "4",
            "--max-length",
            "32",
            "--max-answer-tokens",
            "4",
            "--no-progress",
        ],
        "report": ["report", str(out), "-o", str(out / "r"), "--title", "reads"],
        "serve": ["serve", i["model"], "--port", str(_free_port())],
    }


def test_every_setting_of_every_command_is_read(inputs, tmp_path, monkeypatch):
    import uvicorn

    monkeypatch.setattr(uvicorn.Server, "run", lambda self, sockets=None: None)  # serve: build the app, do not serve
    runs = _runs(inputs, tmp_path)
    assert set(runs) == set(WORKFLOWS.names()), "a new command must join this test (and CONDITIONAL)"
    unread = {}
    for name in [n for n in runs if n != "report"] + ["report"]:
        config = WORKFLOWS.get(name).Config
        with field_reads() as seen:
            result = runner.invoke(app, runs[name])
        assert result.exit_code == 0, (name, result.output, result.stderr)
        read = {f for c, f in seen if c == config.__name__}
        allowed = {**CONDITIONAL["*"], **CONDITIONAL.get(name, {})}
        missing = sorted(set(config.model_fields) - read - set(allowed))
        if missing:
            unread[name] = missing
    assert not unread, f"settings offered but never read: {unread}"
