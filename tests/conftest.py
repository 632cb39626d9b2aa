"""Shared fixtures: tiny random-initialised models of every supported architecture."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import transformers

torch.manual_seed(0)

# (name, config class, config kwargs, model class, vanilla Auto class used to reload)
_COMMON_ENC = dict(vocab_size=120, hidden_size=32, num_attention_heads=4, intermediate_size=64, num_hidden_layers=4)
_COMMON_DEC = dict(
    vocab_size=120,
    hidden_size=32,
    num_attention_heads=4,
    num_key_value_heads=2,
    intermediate_size=64,
    num_hidden_layers=4,
)
TINY = {
    "bert": ("BertConfig", _COMMON_ENC, "BertForSequenceClassification", "AutoModelForSequenceClassification"),
    "roberta": (
        "RobertaConfig",
        dict(_COMMON_ENC, max_position_embeddings=80),
        "RobertaForMaskedLM",
        "AutoModelForMaskedLM",
    ),
    "electra": (
        "ElectraConfig",
        dict(_COMMON_ENC, embedding_size=16),
        "ElectraForSequenceClassification",
        "AutoModelForSequenceClassification",
    ),
    "mpnet": ("MPNetConfig", _COMMON_ENC, "MPNetForSequenceClassification", "AutoModelForSequenceClassification"),
    "distilbert": (
        "DistilBertConfig",
        dict(vocab_size=120, dim=32, n_heads=4, hidden_dim=64, n_layers=4),
        "DistilBertModel",
        "AutoModel",
    ),
    "gpt2": (
        "GPT2Config",
        dict(vocab_size=120, n_embd=32, n_head=4, n_layer=4, n_positions=64),
        "GPT2LMHeadModel",
        "AutoModelForCausalLM",
    ),
    "llama": ("LlamaConfig", _COMMON_DEC, "LlamaForCausalLM", "AutoModelForCausalLM"),
    "qwen2": (
        "Qwen2Config",
        dict(_COMMON_DEC, use_sliding_window=True, sliding_window=8, max_window_layers=2),
        "Qwen2ForCausalLM",
        "AutoModelForCausalLM",
    ),
    "mistral": ("MistralConfig", _COMMON_DEC, "MistralModel", "AutoModel"),
}


def make_tiny(name: str, seed: int = 0):
    config_cls, kwargs, model_cls, _ = TINY[name]
    torch.manual_seed(seed)
    config = getattr(transformers, config_cls)(**kwargs)
    if hasattr(config, "pad_token_id") and config.pad_token_id is None:
        config.pad_token_id = 0
    model = getattr(transformers, model_cls)(config)
    return model.eval()


def auto_class(name: str):
    return getattr(transformers, TINY[name][3])


def random_batches(vocab: int = 120, n: int = 3, batch: int = 4, seq: int = 12, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        ids = torch.randint(3, vocab, (batch, seq), generator=g)
        mask = torch.ones_like(ids)
        mask[0, seq // 2 :] = 0  # one padded row, so masks matter
        out.append({"input_ids": ids, "attention_mask": mask})
    return out


@pytest.fixture(params=sorted(TINY))
def arch(request):
    return request.param


def _data_dir() -> Path | None:
    value = os.environ.get("LAMINA_DATA_DIR")
    return Path(value) if value else None


@pytest.fixture
def data_dir() -> Path:
    path = _data_dir()
    if path is None or not path.is_dir():
        pytest.skip("set LAMINA_DATA_DIR to the shared data folder (../shared/data) to run this test")
    return path


@pytest.fixture(scope="session")
def minilm_path() -> Path:
    from lamina.models.bundled import bundled_path

    return bundled_path("minilm-l6")


@pytest.fixture(scope="session")
def tiny_bert_with_tokenizer(tmp_path_factory, minilm_path) -> Path:
    """A 4-layer tiny BERT classifier with the real MiniLM tokenizer, saved as an HF folder."""
    folder = tmp_path_factory.mktemp("tiny-bert")
    tok = transformers.AutoTokenizer.from_pretrained(minilm_path)
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=tok.vocab_size, hidden_size=32, num_attention_heads=4, intermediate_size=64, num_hidden_layers=4
    )
    transformers.BertForSequenceClassification(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


POS = ["a wonderful film", "great acting and a fine story", "i loved it", "warm , funny and smart", "superb"]
NEG = ["a dull mess", "boring and far too long", "i hated it", "flat , lifeless and stupid", "awful"]


@pytest.fixture(scope="session")
def sst_like(tmp_path_factory) -> str:
    """A GLUE-format folder with a 64-example SST-2-style train set (easy, synthetic) and a
    dev set of its first rows; returns the folder to pass as data_dir."""
    folder = tmp_path_factory.mktemp("glue") / "SST-2"
    folder.mkdir()
    rows = [(POS[i % 5] + f" {i}", 1) if i % 2 else (NEG[i % 5] + f" {i}", 0) for i in range(64)]
    body = "".join(f"{t}\t{y}\n" for t, y in rows)
    (folder / "train.tsv").write_text("sentence\tlabel\n" + body)
    (folder / "dev.tsv").write_text("sentence\tlabel\n" + body[: body.index("\n", 600) + 1])
    return str(folder.parent)


STUDENT_CONFIG = (
    '{"model_type": "bert", "vocab_size": 30522, "hidden_size": 16, "num_attention_heads": 2, "intermediate_size": 32, '
    '"num_hidden_layers": 2, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}'
)


@pytest.fixture(scope="session")
def tiny_teacher(tmp_path_factory, tiny_bert_with_tokenizer, sst_like):
    """The tiny 4-layer BERT fine-tuned on the synthetic SST-2 slice."""
    from lamina.workflows.finetune import FinetuneConfig, run_finetune

    out = tmp_path_factory.mktemp("teacher") / "t"
    run_finetune(
        FinetuneConfig(
            model=str(tiny_bert_with_tokenizer),
            task="sst2",
            output=str(out),
            data_dir=sst_like,
            epochs=10,
            lr=3e-3,
            batch_size=16,
            max_length=32,
            logging_steps=4,
            progress=False,
        )
    )
    return out


def assert_one_line_error(result, match: str, code: int | None = None):
    """A CLI result that failed with exactly one ``error: ...`` line containing ``match``, no traceback
    (and, given ``code``, that exit status: 2 is bad input, 1 an unexpected failure)."""
    assert result.exit_code != 0, result.output
    assert code is None or result.exit_code == code, (result.exit_code, result.output, result.stderr)
    err = result.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), result.stderr
    assert match in err[0], err[0]
    assert "Traceback" not in result.output


def assert_cli_ok(result):
    """A CLI result that succeeded (its output and errors shown when it did not)."""
    assert result.exit_code == 0, result.output + (result.stderr or "")
    return result


# tiny generating models for the causal-LM, seq2seq and pretraining tests
WORDS = ["the", "cat", "sat", "on", "mat", "a", "dog", "ran", "to", "park", "red", "blue", "house", "tree"]
SMALL_LLAMA = dict(
    hidden_size=16, num_attention_heads=2, num_key_value_heads=1, intermediate_size=32, num_hidden_layers=2
)


def write_patterned_corpus(folder: Path, lines: int, strides: int, seed: int = 0) -> Path:
    """``lines`` lines of 8 WORDS each, stepping through the list by one of ``strides`` seeded strides:
    patterned text a tiny model can learn, so its LM or MLM loss falls. Returns the file."""
    g = torch.Generator().manual_seed(seed)
    text = []
    for i in range(lines):
        k = int(torch.randint(0, strides, (1,), generator=g))
        text.append(" ".join(WORDS[(i + j * (k + 1)) % len(WORDS)] for j in range(8)) + " .")
    path = Path(folder) / "lines.txt"
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    return path


def special_ids(tokenizer) -> dict:
    """A config's pad/bos/eos ids from a tokenizer."""
    return {
        "pad_token_id": tokenizer.pad_token_id,
        "bos_token_id": tokenizer.bos_token_id,
        "eos_token_id": tokenizer.eos_token_id,
    }


def tiny_llama(vocab_size: int, seed: int = 0, **overrides):
    """A random LlamaForCausalLM in eval mode: TINY["llama"]'s shape (4 layers × 32) unless overridden."""
    _, kwargs, _, _ = TINY["llama"]
    torch.manual_seed(seed)
    config = transformers.LlamaConfig(**{**kwargs, "vocab_size": vocab_size, **overrides})
    return transformers.LlamaForCausalLM(config).eval()


def save_with_tokenizer(model, tokenizer, folder: Path) -> Path:
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return Path(folder)


# lifelong: two conflicting text-to-text tasks on letters and a tiny Llama with a BPE tokenizer
LETTERS = list("abcdefghijklmnop")


@pytest.fixture(scope="session")
def lifelong_setup(tmp_path_factory):
    """The two task files (``copy`` answers the first of two letters, ``next`` the letter after the
    second, same question) and a 2-layer random Llama (width 64) with a BPE tokenizer; returns
    ``(folder, files)``: the model is ``folder / "model"``, ``files`` the two --text-file options."""
    import json
    import random

    from lamina.data.bpe import train_bpe

    folder = tmp_path_factory.mktemp("lll")
    rng = random.Random(0)
    for kind in ("copy", "next"):
        with open(folder / f"{kind}.jsonl", "w") as f:
            for _ in range(200):
                i, j = rng.randrange(len(LETTERS) - 1), rng.randrange(len(LETTERS) - 1)
                answer = LETTERS[i] if kind == "copy" else LETTERS[j + 1]
                f.write(
                    json.dumps({"context": f"{LETTERS[i]} {LETTERS[j]}", "question": "which", "answer": answer}) + "\n"
                )
    tok = train_bpe([" ".join(LETTERS)] * 5 + ["which"] * 5, vocab_size=300, max_length=64)
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=len(tok),
        hidden_size=64,
        num_attention_heads=4,
        num_key_value_heads=2,
        intermediate_size=128,
        num_hidden_layers=2,
        max_position_embeddings=64,
        pad_token_id=tok.pad_token_id,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
    )
    transformers.LlamaForCausalLM(config).save_pretrained(folder / "model")
    tok.save_pretrained(folder / "model")
    files = ["--text-file", f"copy={folder / 'copy.jsonl'}", "--text-file", f"next={folder / 'next.jsonl'}"]
    return folder, files
