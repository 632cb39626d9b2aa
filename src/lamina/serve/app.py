"""The demo server: one static page (``page.html``, inline CSS and JS, nothing fetched from
elsewhere, so it works offline) and a JSON API documented by FastAPI's schema
(``/openapi.json``; ``/docs`` renders it).

- ``POST /predict`` ``{"text": "..."}`` or ``{"texts": [...]}``: per model, its label,
  confidence and latency for each text.
- ``GET /models``: what was loaded (name, path, backend, labels, layers, parameters, bytes).
- ``GET /health``: liveness.

Limits: a body over ``max_body_bytes`` is 413; malformed JSON, a missing field, an empty
text or more texts than ``batch_limit`` are 422. Models are loaded before the app is built
and only read afterwards: a request keeps its inputs and outputs to itself (each model has a
lock so that concurrent requests take turns on the CPU instead of oversubscribing it).
"""

import threading
import time
from dataclasses import dataclass, field
from importlib import resources

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field, model_validator

MAX_BODY_BYTES = 1_000_000
BATCH_LIMIT = 32


@dataclass
class Served:
    """A loaded model: ``classifier.predict(texts)`` gives labels and confidences."""

    name: str
    classifier: object
    info: dict
    lock: threading.Lock = field(default_factory=threading.Lock)


class Prediction(BaseModel):
    label: str
    label_id: int
    confidence: float


class ModelResult(BaseModel):
    model: str
    backend: str
    latency_ms: float = Field(description="Wall time of this model on this request (tokenization included).")
    predictions: list[Prediction]
    # the first text's prediction, flattened, for the single-text case
    label: str
    confidence: float


class PredictResponse(BaseModel):
    results: list[ModelResult]


def request_model(batch_limit: int):
    class PredictRequest(BaseModel):
        """One text (``text``) or several (``texts``, at most the batch limit)."""

        text: str | None = Field(None, description="A text to classify.")
        texts: list[str] | None = Field(None, description=f"Texts to classify (at most {batch_limit}).")

        @model_validator(mode="after")
        def _check(self):
            if (self.text is None) == (self.texts is None):
                raise ValueError("give exactly one of 'text' or 'texts'")
            texts = [self.text] if self.text is not None else self.texts
            if not texts:
                raise ValueError("'texts' is empty")
            if len(texts) > batch_limit:
                raise ValueError(f"{len(texts)} texts: at most {batch_limit} per request")
            if any(not t.strip() for t in texts):
                raise ValueError("a text is empty")
            return self

        def all_texts(self) -> list[str]:
            return [self.text] if self.text is not None else list(self.texts)

    return PredictRequest


class BodyLimit:
    """ASGI middleware: 413 for a request body over ``limit`` bytes, whether or not it states its
    length (a chunked body is read, up to the limit, before the app sees it)."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await self._reject(scope, send)
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                return await self._reject(scope, send)
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _reject(self, scope, send):
        async def nothing():
            return {"type": "http.disconnect"}

        response = JSONResponse({"detail": f"request body over {self.limit} bytes"}, status_code=413)
        await response(scope, nothing, send)


def page_html() -> str:
    return resources.files("lamina.serve").joinpath("page.html").read_text(encoding="utf-8")


def create_app(
    models: list[Served], *, batch_limit: int = BATCH_LIMIT, max_body_bytes: int = MAX_BODY_BYTES
) -> FastAPI:
    PredictRequest = request_model(batch_limit)
    # FastAPIOffline: FastAPI whose /docs and /redoc pages load their scripts from the package,
    # not from a CDN, so the schema page works offline like the rest
    app = FastAPIOffline(
        title="lamina serve",
        version="1",
        description="Each loaded model's prediction for a text, side by side. "
        f"Limits: bodies over {max_body_bytes} bytes are refused (413); at most {batch_limit} texts per "
        "request; empty texts, malformed JSON and missing fields are 422.",
    )
    html = page_html()

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page():
        return html

    @app.get("/health")
    def health() -> dict:
        """Liveness: ok, and how many models are loaded."""
        return {"status": "ok", "models": len(models)}

    @app.get("/models")
    def list_models() -> dict:
        """The loaded models, in the order given on the command line, and the request limits."""
        return {
            "models": [{"name": m.name, **m.info} for m in models],
            "batch_limit": batch_limit,
            "max_body_bytes": max_body_bytes,
        }

    @app.post("/predict", response_model=PredictResponse)
    def predict(request: PredictRequest) -> PredictResponse:  # type: ignore[valid-type]
        """Every model's label and confidence for each text, with its latency."""
        texts = request.all_texts()
        results = []
        for m in models:
            with m.lock:
                start = time.perf_counter()
                preds = m.classifier.predict(texts)
                ms = 1000 * (time.perf_counter() - start)
            results.append(
                ModelResult(
                    model=m.name,
                    backend=m.info.get("backend", "torch"),
                    latency_ms=ms,
                    predictions=[Prediction(**p) for p in preds],
                    label=preds[0]["label"],
                    confidence=preds[0]["confidence"],
                )
            )
        return PredictResponse(results=results)

    app.add_middleware(BodyLimit, limit=max_body_bytes)
    return app
