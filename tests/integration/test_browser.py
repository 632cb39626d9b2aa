"""A real browser on the demo page: Debian's headless Chromium (chromium + chromium-driver, driven by
Selenium; never a browser download) opens the page served on loopback, types a sentence and sees one
prediction per model.

Skipped where /usr/bin/chromium or /usr/bin/chromedriver is missing, except under CI (CI=true), where
.ci/run installs them and their absence is a failure. One command:
``LAMINA_SCREENSHOT=benchmarks/results/serve/page.png python -m pytest -q tests/integration/test_browser.py``
(the screenshot is also written to the test's temporary folder)."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest


@pytest.fixture
def served(tiny_teacher, sst_like, tmp_path):
    """The page on a free loopback port: the tiny teacher twice (PyTorch and ONNX Runtime int8)."""
    import uvicorn
    from typer.testing import CliRunner

    from lamina.cli import app as cli
    from lamina.workflows.serve import ServeConfig, bind, build_app

    int8 = tmp_path / "int8"
    r = CliRunner().invoke(
        cli,
        [
            "export",
            str(tiny_teacher),
            "-o",
            str(int8),
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
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = ServeConfig(models=[f"teacher={tiny_teacher}", f"teacher-int8={int8}"], port=port, max_length=32)
    sock = bind(cfg.host, cfg.port)
    server = uvicorn.Server(uvicorn.Config(build_app(cfg, log=lambda *_: None), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 30
    while not server.started and time.time() < deadline:
        time.sleep(0.1)
    assert server.started
    yield f"http://127.0.0.1:{port}/"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def test_the_page_shows_one_prediction_per_model(served, tmp_path):
    from lamina.serve.browser import missing_browser, predict_in_browser

    missing = missing_browser()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{', '.join(missing)} missing: .ci/run installs chromium and chromium-driver")
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install chromium chromium-driver)")
    pytest.importorskip("selenium")
    shot = tmp_path / "page.png"
    rows = predict_in_browser(served, "a wonderful film, warm and funny", profile=tmp_path / "profile", screenshot=shot)
    assert [r["model"] for r in rows] == ["teacher", "teacher-int8"]
    assert all(r["label"] in ("negative", "positive") for r in rows), rows
    assert all(r["latency"].endswith(" ms") and r["confidence"].endswith("%") for r in rows), rows
    assert shot.stat().st_size > 1000
    if os.environ.get("LAMINA_SCREENSHOT"):
        Path(os.environ["LAMINA_SCREENSHOT"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, os.environ["LAMINA_SCREENSHOT"])
