"""``lamina serve``: load classifiers (PyTorch, ONNX or int8 exports) once and serve a page and a
JSON API that show every model's prediction for a text, side by side (seed 004's demo)."""

from __future__ import annotations

from pathlib import Path

from lamina.config import Settings, setting
from lamina.workflows import RunContext, Workflow, register_workflow


class ServeConfig(Settings):
    models: list[str] = setting(
        ...,
        "Model folders (PyTorch classifiers or `lamina export` outputs), or NAME=PATH to name one.",
        missing="give at least one model folder",
    )
    host: str = setting("127.0.0.1", "Address to listen on (loopback by default).")
    port: int = setting(8000, "Port to listen on.", ge=1, le=65535)
    max_length: int = setting(128, "Tokens per text (truncation), as in lamina eval.", ge=2)
    batch_limit: int = setting(32, "Most texts one request may send.", ge=1)
    max_body_bytes: int = setting(1_000_000, "Largest request body accepted (larger: 413).", ge=1024)
    threads: int | None = setting(None, "CPU threads per model (default: the library's).", ge=1)


def served_model(spec: str, *, threads: int | None = None, max_length: int = 128):
    """A :class:`lamina.serve.app.Served` for ``spec`` (``NAME=PATH`` or a path): an ONNX export runs
    on ONNX Runtime, anything else on PyTorch; one clear error if it is not a classifier."""
    from lamina.errors import LaminaError
    from lamina.eval.timing import parameter_count, weights_size_bytes
    from lamina.models.export import TextClassifier, check_exportable, export_record, exported_format, load_exported
    from lamina.models.loading import load_model, resolve_model
    from lamina.serve.app import Served

    name, _, path = spec.rpartition("=") if "=" in spec and not Path(spec).exists() else ("", "", spec)
    source = resolve_model(path)  # (a missing folder is refused before torch is imported)
    import torch

    fmt = exported_format(source)
    loaded = load_exported(path, threads=threads)  # an export on its format's own backend
    if loaded is None:
        model, tokenizer, source = load_model(path)
        check_exportable(model, path)
        if threads:
            torch.set_num_threads(threads)
    else:
        model, tokenizer, source = loaded
    params = (export_record(Path(source)).get("sizes") or {}).get("parameters") if fmt else None
    info = {
        "path": str(source),
        "backend": fmt or "torch",
        "layers": getattr(model.config, "num_hidden_layers", None),
        "parameters": params or parameter_count(model),
        "bytes": weights_size_bytes(source) if Path(source).is_dir() else None,
        "labels": [str(v) for _, v in sorted((int(k), v) for k, v in (model.config.id2label or {}).items())],
        "max_length": max_length,
    }
    try:
        classifier = TextClassifier(model, tokenizer, max_length=max_length)
    except LaminaError as exc:
        raise LaminaError(f"'{path}': {exc}") from None
    return Served(name=name or Path(source).name, classifier=classifier, info=info)


def bind(host: str, port: int):
    """A listening socket on host:port, or one clear error (a port in use, an address not here)."""
    import socket

    from lamina.errors import LaminaError

    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno in (98, 48, 10048):  # EADDRINUSE on Linux, macOS, Windows
            raise LaminaError(f"port {port} on {host} is already in use (pick another with --port)") from None
        raise LaminaError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def build_app(cfg: ServeConfig, log=print):
    """Load every model (once) and build the FastAPI app; any model that fails stops here."""
    from lamina.serve.app import create_app

    return create_app(load_served(cfg, log), batch_limit=cfg.batch_limit, max_body_bytes=cfg.max_body_bytes)


def load_served(cfg: ServeConfig, log=print) -> list:
    """Every model of ``cfg``, loaded and warmed up once, distinctly named."""
    from lamina.errors import LaminaError

    served = []
    for spec in cfg.models:
        try:
            m = served_model(spec, threads=cfg.threads, max_length=cfg.max_length)
        except LaminaError as exc:
            raise LaminaError(f"model {spec} failed to load: {exc}") from None
        names = {s.name for s in served}
        base, n = m.name, 2
        while m.name in names:  # two folders with one name: name the second NAME-2
            m.name, n = f"{base}-{n}", n + 1
        m.classifier.predict(["warm-up"])  # the first call of a model is slow: not a visitor's
        served.append(m)
        log(f"loaded {m.name}: {m.info['backend']}, {m.info['layers']} layers, {m.info['path']}")
    return served


@register_workflow("serve")
class Serve(Workflow):
    """Serve a page (offline: no external assets) and a JSON API (POST /predict, GET /models, GET /health;
    schema at /openapi.json, rendered at /docs) showing each model's label, confidence and latency side by side."""

    Config = ServeConfig
    arguments = ("models",)
    in_reports = False
    in_recipes = False

    def run(self, cfg: ServeConfig, ctx: RunContext) -> None:
        import uvicorn

        sock = bind(cfg.host, cfg.port)  # before loading: a port in use fails at once
        try:
            app = build_app(cfg, log=ctx.log)
            shown = f"[{cfg.host}]" if ":" in cfg.host else cfg.host
            ctx.log(
                f"serving {len(cfg.models)} model(s) on http://{shown}:{cfg.port}/ (API schema: /docs; Ctrl-C stops)"
            )
            server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
            server.run(sockets=[sock])
        finally:
            sock.close()

    def show(self, record, cfg, echo) -> None:
        pass
