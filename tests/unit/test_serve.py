"""lamina serve in-process (FastAPI's TestClient): predictions equal lamina eval's, the limits
(413/422), /models and /health, and startup failures as one clear error line."""

from __future__ import annotations

import socket

import numpy as np
import pytest
from conftest import assert_one_line_error
from typer.testing import CliRunner

from lamina.cli import app as cli

pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

runner = CliRunner()


@pytest.fixture(scope="module")
def int8_export(tiny_teacher, sst_like, tmp_path_factory):
    out = tmp_path_factory.mktemp("serve") / "int8"
    r = runner.invoke(
        cli,
        [
            "export",
            str(tiny_teacher),
            "-o",
            str(out),
            "--format",
            "onnx-int8",
            "--parity-data",
            "sst2",
            "--data-dir",
            sst_like,
            "--max-length",
            "32",
        ],
    )
    assert r.exit_code == 0, r.output
    return out


@pytest.fixture(scope="module")
def client(tiny_teacher, int8_export):
    from lamina.workflows.serve import ServeConfig, build_app

    cfg = ServeConfig(
        models=[f"teacher={tiny_teacher}", str(int8_export)], max_length=32, batch_limit=8, max_body_bytes=4096
    )
    with TestClient(build_app(cfg, log=lambda *_: None)) as c:
        yield c


def dev_texts(sst_like) -> tuple[list[str], list[int]]:
    from lamina.tasks import get_task

    dev = get_task("sst2").load(sst_like)["dev"]
    return list(dev["text"]), list(dev["label"])


def test_models_and_health(client, int8_export):
    assert client.get("/health").json() == {"status": "ok", "models": 2}
    data = client.get("/models").json()
    assert [m["name"] for m in data["models"]] == ["teacher", "int8"]
    assert [m["backend"] for m in data["models"]] == ["torch", "onnx-int8"]
    assert data["models"][1]["path"] == str(int8_export) and data["batch_limit"] == 8
    assert all(m["layers"] == 4 and m["parameters"] > 0 and m["bytes"] > 0 for m in data["models"])


def test_predictions_equal_lamina_evals(client, tiny_teacher, int8_export, sst_like):
    """The server's labels are the argmax of the logits lamina eval scores (same tokenization)."""
    from lamina.data.encode import encode
    from lamina.eval.scoring import predict
    from lamina.models.export import OnnxModel
    from lamina.models.loading import load_model
    from lamina.tasks import get_task

    texts, _ = dev_texts(sst_like)
    dev = get_task("sst2").load(sst_like)["dev"]
    served = {}
    for start in range(0, len(texts), 8):
        r = client.post("/predict", json={"texts": texts[start : start + 8]})
        assert r.status_code == 200, r.text
        for res in r.json()["results"]:
            served.setdefault(res["model"], []).extend(p["label_id"] for p in res["predictions"])
            assert res["latency_ms"] > 0
    torch_model, tokenizer, _ = load_model(str(tiny_teacher))
    for name, model in (("teacher", torch_model), ("int8", OnnxModel(int8_export))):
        logits, _ = predict(model, tokenizer, encode(dev, tokenizer, 32))
        assert served[name] == list(np.asarray(logits).argmax(-1)), name


def test_one_text_gives_one_prediction_per_model(client):
    r = client.post("/predict", json={"text": "a wonderful film"})
    assert r.status_code == 200
    results = r.json()["results"]
    assert [x["model"] for x in results] == ["teacher", "int8"]
    assert all(x["label"] in ("negative", "positive") and 0.5 <= x["confidence"] <= 1 for x in results)


@pytest.mark.parametrize(
    "body,status",
    [
        ('{"text": "ok"', 422),  # malformed JSON
        ("{}", 422),  # no field
        ('{"txt": "hi"}', 422),  # a missing field
        ('{"text": "   "}', 422),  # empty text
        ('{"texts": []}', 422),
        ('{"texts": ["a","b","c","d","e","f","g","h","i"]}', 422),  # over the batch limit (8)
        ('{"text": "a", "texts": ["b"]}', 422),
        ('{"text": "' + "x" * 5000 + '"}', 413),  # over max_body_bytes (4096)
    ],
)
def test_limits(client, body, status):
    r = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text


def test_a_chunked_body_over_the_limit_is_413(client):
    def chunks():
        for _ in range(10):
            yield b"x" * 1000

    r = client.post("/predict", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_the_page_is_self_contained(client):
    html = client.get("/").text
    assert 'id="predict"' in html and 'id="rows"' in html
    for outside in ("http://", "https://", "//cdn", "<link", "src="):
        assert outside not in html, outside
    assert client.get("/openapi.json").json()["paths"].keys() >= {"/predict", "/models", "/health"}


def test_the_schema_page_loads_its_scripts_from_the_server(client):
    """FastAPI's /docs page, offline: every script and style it names is served by this app."""
    import re

    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assets = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", docs.text)
    assert any(a.endswith(".js") for a in assets) and all(a.startswith("/") for a in assets), assets
    for a in assets:
        assert client.get(a).status_code == 200, a


def test_startup_failures_are_one_error_line(tiny_teacher, tmp_path):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    try:
        port = busy.getsockname()[1]
        r = runner.invoke(cli, ["serve", str(tiny_teacher), "--port", str(port)])
        assert_one_line_error(r, "already in use")
    finally:
        busy.close()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    r = runner.invoke(cli, ["serve", str(tiny_teacher), str(tmp_path / "broken"), "--port", str(free)])
    assert_one_line_error(r, "failed to load")
    assert_one_line_error(runner.invoke(cli, ["serve"]), "model")
