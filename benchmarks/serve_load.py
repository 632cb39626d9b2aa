"""Load on `lamina serve`: N concurrent requests on loopback, every answer checked against the
models' own predictions, p50/p99 latency reported (a benchmark, not a timed test). Bounded: a fixed
number of requests, a per-request timeout and an overall deadline; it stops by itself. Optionally
takes a screenshot of the page in Debian's headless Chromium.

    python benchmarks/serve_load.py runs/quickstart/runs/teacher runs/quickstart/runs/student \\
        runs/quickstart/runs/int8 --requests 200 -o benchmarks/results/serve \\
        --screenshot benchmarks/results/serve/page.png
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import threading
import time
from pathlib import Path

TEXTS = [
    "Shares in the carmaker rose sharply after it reported record profits for the third quarter.",
    "The striker scored twice as United came from behind to win the cup tie at Anfield.",
    "The film festival opened with a sold-out premiere of the director's long-awaited drama.",
    "Ministers will publish the bill next week, the prime minister told MPs in the Commons.",
    "The new handset uses a faster chip and software that lets users stream music online.",
    "Oil prices fell as traders worried about slowing demand from the world's largest economies.",
    "The champion was knocked out of the open in straight sets by an unseeded teenager.",
    "The band's new album went straight to number one in the charts on its first week.",
    "The opposition leader called for an inquiry into the government's handling of the crisis.",
    "Researchers say broadband use has doubled as more homes download films and games.",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


async def fire(url: str, n: int, concurrency: int, timeout: float, deadline: float) -> list[dict]:
    import httpx

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=timeout) as client:

        async def one(i: int) -> dict:
            text = TEXTS[i % len(TEXTS)]
            start = time.perf_counter()
            try:
                r = await client.post("/predict", json={"text": text})
                body = r.json() if r.status_code == 200 else None
                return {"i": i, "status": r.status_code, "seconds": time.perf_counter() - start, "body": body}
            except httpx.HTTPError as exc:
                return {"i": i, "status": None, "seconds": time.perf_counter() - start, "error": type(exc).__name__}

        return await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(n))), timeout=deadline)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=200, help="requests in flight at once")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    ap.add_argument("--deadline", type=float, default=600.0, help="seconds for the whole run")
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--threads", type=int, default=None, help="CPU threads per model (lamina serve --threads)")
    ap.add_argument("-o", "--output", default="benchmarks/results/serve")
    ap.add_argument("--screenshot", default=None, help="also save the page, after one prediction, as this PNG")
    ap.add_argument("--text", default="Shares in the carmaker rose sharply after record profits.")
    args = ap.parse_args(argv)
    if args.requests > 10_000 or args.concurrency > 1_000:
        ap.error("a load test here stays small: at most 10,000 requests and 1,000 in flight")

    import uvicorn

    from lamina.serve.app import create_app
    from lamina.workflows.serve import ServeConfig, bind, load_served

    with socket.socket() as s:  # a free loopback port
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = ServeConfig(models=args.models, port=port, max_length=args.max_length, threads=args.threads)
    served = load_served(cfg)
    expected = {m.name: [p["label"] for p in m.classifier.predict(TEXTS)] for m in served}
    sock = bind("127.0.0.1", port)
    server = uvicorn.Server(uvicorn.Config(create_app(served), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    try:
        started = time.perf_counter()
        answers = asyncio.run(fire(url, args.requests, args.concurrency, args.timeout, args.deadline))
        wall = time.perf_counter() - started
        shot_rows = None
        if args.screenshot:
            import tempfile

            from lamina.serve.browser import predict_in_browser

            Path(args.screenshot).parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory() as profile:
                shot_rows = predict_in_browser(url + "/", args.text, profile=profile, screenshot=args.screenshot)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()

    ok = [a for a in answers if a["status"] == 200]
    correct = [
        a
        for a in ok
        if all(res["label"] == expected[res["model"]][a["i"] % len(TEXTS)] for res in a["body"]["results"])
        and len(a["body"]["results"]) == len(served)
    ]
    seconds = [a["seconds"] for a in ok]
    per_model = {
        m.name: [res["latency_ms"] for a in ok for res in a["body"]["results"] if res["model"] == m.name]
        for m in served
    }
    command = "python " + " ".join([sys.argv[0], *(argv if argv is not None else sys.argv[1:])])
    result = {
        "command": command,
        "requests": args.requests,
        "concurrency": args.concurrency,
        "answered_200": len(ok),
        "correct": len(correct),
        "wall_seconds": wall,
        "requests_per_second": len(ok) / wall if wall else None,
        "latency_ms": {
            "p50": 1000 * percentile(seconds, 0.5),
            "p99": 1000 * percentile(seconds, 0.99),
            "max": 1000 * max(seconds),
        }
        if seconds
        else None,
        "model_ms": {
            name: {"p50": percentile(v, 0.5), "p99": percentile(v, 0.99)} for name, v in per_model.items() if v
        },
        "models": [{"name": m.name, **m.info} for m in served],
        "screenshot": args.screenshot,
        "page_rows": shot_rows,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
    }
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    (out / "load.json").write_text(json.dumps(result, indent=1) + "\n")
    lat = result["latency_ms"] or {}
    md = [
        "# lamina serve under load",
        "",
        f"`{command}`",
        "",
        f"{args.requests} requests, {args.concurrency} in flight, one text each, on loopback; every model answers "
        f"every request (its own lock: requests take turns per model). {os.cpu_count()} CPUs, load average at the "
        f"end {', '.join(f'{x:.2f}' for x in result['load_average'])}.",
        "",
        f"- answered (200): **{len(ok)} / {args.requests}**, correct (each model's label equals its direct "
        f"prediction): **{len(correct)} / {args.requests}**",
        f"- wall {wall:.1f} s ({result['requests_per_second']:.1f} requests/s)",
        f"- request latency (client side, queueing included): p50 **{lat.get('p50', 0):.0f} ms**, "
        f"p99 **{lat.get('p99', 0):.0f} ms**, max {lat.get('max', 0):.0f} ms",
        "- per model (server side, one text): "
        + ", ".join(f"{n} p50 {v['p50']:.1f} ms / p99 {v['p99']:.1f} ms" for n, v in result["model_ms"].items()),
        "",
    ]
    if shot_rows:
        md += [
            f'Page after predicting "{args.text}" ([{Path(args.screenshot).name}]({Path(args.screenshot).name})):',
            "",
            "| model | label | confidence | latency |",
            "|---|---|---:|---:|",
        ]
        md += [f"| {r['model']} | {r['label']} | {r['confidence']} | {r['latency']} |" for r in shot_rows]
    (out / "load.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    return 0 if len(correct) == args.requests else 1


if __name__ == "__main__":
    sys.exit(main())
