"""Export round trip on the real MiniLM-L6 (bundled) with a 5-topic head: fp32 ONNX parity within
1e-4, ONNX Runtime int8 argmax agreement on real text (BBC News) and its dev accuracy change, and
the same accuracy from `lamina eval --backend onnx` as from PyTorch."""

from __future__ import annotations

import json

import pytest
import torch
import transformers
from typer.testing import CliRunner

from lamina.cli import app

pytestmark = pytest.mark.integration
runner = CliRunner()


@pytest.fixture(scope="module")
def minilm_classifier(tmp_path_factory, minilm_path):
    """MiniLM-L6 with a trained head: logistic regression on its pooled outputs for 742 BBC News
    articles (5 topics), so that its logits have the margins of a real classifier (a random head's
    near-ties would flip under any quantisation)."""
    from sklearn.linear_model import LogisticRegression

    from lamina.data.bbc import bbc_articles

    folder = tmp_path_factory.mktemp("minilm-cls")
    torch.manual_seed(0)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(minilm_path, num_labels=5).eval()
    tok = transformers.AutoTokenizer.from_pretrained(minilm_path)
    articles = bbc_articles()[::3]  # every third article: 742, all five topics
    labels = sorted({y for _, y in articles})
    feats = []
    with torch.inference_mode():
        for start in range(0, len(articles), 32):
            enc = tok(
                [t for t, _ in articles[start : start + 32]],
                truncation=True,
                max_length=128,
                padding=True,
                return_tensors="pt",
            )
            feats.append(model.bert(**enc).pooler_output)
    clf = LogisticRegression(max_iter=2000, C=10.0).fit(
        torch.cat(feats).numpy(), [labels.index(y) for _, y in articles]
    )
    with torch.no_grad():
        model.classifier.weight.copy_(torch.tensor(clf.coef_, dtype=torch.float32))
        model.classifier.bias.copy_(torch.tensor(clf.intercept_, dtype=torch.float32))
    model.config.id2label = {i: str(y) for i, y in enumerate(labels)}
    model.config.label2id = {str(y): i for i, y in enumerate(labels)}
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def exported(minilm_classifier, tmp_path_factory):
    root = tmp_path_factory.mktemp("minilm-export")
    out = {}
    for fmt in ("onnx", "onnx-int8"):
        # A head fit on frozen sentence-embedding features leaves near-ties that int8 noise flips (2 of
        # 136 rows here), so this bar is 97%; the default 99% holds for a fine-tuned classifier (the
        # quickstart's student: 99.26%, benchmarks/README.md; the tiny fine-tuned model: test_export).
        r = runner.invoke(
            app,
            [
                "export",
                str(minilm_classifier),
                "-o",
                str(root / fmt),
                "--format",
                fmt,
                "--min-agreement",
                "0.97",
                "--task",
                "bbc-news",
                "--max-samples",
                "200",
            ],
        )
        assert r.exit_code == 0, r.output
        out[fmt] = root / fmt
    return out


def test_minilm_exports_pass_parity(exported):
    fp32 = json.loads((exported["onnx"] / "lamina_results.json").read_text())
    int8 = json.loads((exported["onnx-int8"] / "lamina_results.json").read_text())
    assert fp32["export"]["parity"]["max_abs_diff"] < 1e-4
    assert int8["export"]["parity"]["argmax_agreement"] >= 0.97
    assert abs(int8["export"]["metric_change"]["accuracy"]) <= 0.02  # on 200 dev articles
    assert int8["sizes"]["bytes"] < fp32["sizes"]["bytes"] / 3  # int8 weights and embeddings


def test_onnx_eval_gives_pytorchs_accuracy(minilm_classifier, exported, tmp_path):
    args = ["--task", "bbc-news", "--max-samples", "200", "--no-speed"]
    r1 = runner.invoke(app, ["eval", str(minilm_classifier), *args, "--json", str(tmp_path / "t.json")])
    r2 = runner.invoke(
        app, ["eval", str(exported["onnx"]), "--backend", "onnx", *args, "--json", str(tmp_path / "o.json")]
    )
    assert r1.exit_code == 0 and r2.exit_code == 0, r1.output + r2.output
    t, o = (json.loads((tmp_path / f"{n}.json").read_text()) for n in "to")
    assert o["metrics"]["accuracy"] == t["metrics"]["accuracy"]
