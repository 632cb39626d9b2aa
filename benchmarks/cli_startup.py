"""How long the command line takes to start (issue 26): ``lamina --help``, ``lamina distill --help``
and ``python -c "import typer"`` (the floor: the interpreter plus the CLI library), side by side.

    python benchmarks/cli_startup.py [--rounds 5] [--lamina "python -m lamina.cli"] [--out DIR]

Each command runs in a fresh process, once per round, the order rotated each round
(as ``step_timer.alternated_rounds``, not imported: it loads transformers, and a child forked from a
large process reports that process's memory as its peak RSS), after one
discarded warm-up round (file caches). The figures are the median wall time over the rounds and the
largest peak RSS of the process. Target: ``lamina --help`` within 0.3 s of ``import typer``. Run it on
a quiet machine: anything else running makes the figures void. Writes
benchmarks/results/cli_startup.{md,json} with the command that made them.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
TARGET_S = 0.3


def run_once(argv: list[str], env: dict) -> tuple[float, float]:
    """(wall seconds, peak RSS in MiB) of one run of ``argv``; a failing command stops the script."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode != 0:
        sys.exit(f"{shlex.join(argv)} exited {proc.returncode}: {err.strip()}")
    return wall, usage.ru_maxrss / 1024  # Linux: KiB


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument(
        "--lamina",
        default=f"{sys.executable} -m lamina.cli",
        help="how lamina is started (default: this interpreter, -m lamina.cli)",
    )
    ap.add_argument("--out", default=str(RESULTS / "cli_startup"))
    ap.add_argument(
        "--no-bytecode-cache",
        action="store_true",
        help="keep PYTHONDONTWRITEBYTECODE if set (then every start compiles lamina's sources again)",
    )
    args = ap.parse_args()

    lamina = shlex.split(args.lamina)
    commands = {
        "lamina --help": [*lamina, "--help"],
        "lamina distill --help": [*lamina, "distill", "--help"],
        'python -c "import typer"': [sys.executable, "-c", "import typer"],
    }
    env = dict(os.environ)
    if not args.no_bytecode_cache:  # an installed lamina has its bytecode cached: the warm-up round writes it
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    names = list(commands)
    for name in names:  # warm-up, discarded
        run_once(commands[name], env)
    rss: dict[str, list[float]] = {name: [] for name in names}

    def measure(name, _round):
        wall, peak = run_once(commands[name], env)
        rss[name].append(peak)
        return wall

    rounds = []
    for r in range(args.rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        rounds.append({"order": order, "runs": {name: measure(name, r) for name in order}})
    walls = {name: [r["runs"][name] for r in rounds] for name in names}
    floor = statistics.median(walls['python -c "import typer"'])
    rows = [
        {
            "command": name,
            "argv": shlex.join(commands[name]),
            "median_s": round(statistics.median(walls[name]), 3),
            "min_s": round(min(walls[name]), 3),
            "max_s": round(max(walls[name]), 3),
            "over_import_typer_s": round(statistics.median(walls[name]) - floor, 3),
            "peak_rss_mib": round(max(rss[name]), 1),
            "walls_s": [round(w, 4) for w in walls[name]],
        }
        for name in names
    ]
    meta = {
        "command": shlex.join([sys.executable, *sys.argv]),
        "rounds": args.rounds,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "pythonpath": os.environ.get("PYTHONPATH", ""),
        "target_s": TARGET_S,
        "bytecode_cache": "PYTHONDONTWRITEBYTECODE" not in env,
        "orders": [r["order"] for r in rounds],
    }

    lines = [
        "# CLI start-up (issue 26)",
        "",
        f"Command: `{meta['command']}`" + (f" (PYTHONPATH={meta['pythonpath']})" if meta["pythonpath"] else ""),
        "",
        f"Wall time of a fresh process, median of {args.rounds} rounds (order rotated each round, one warm-up "
        f"round discarded; bytecode {'cached' if meta['bytecode_cache'] else 'not cached'}); peak RSS: the largest "
        f"of the rounds. Python {meta['python']}, {meta['cpus']} CPUs. "
        f"Target: `lamina --help` within {TARGET_S} s of `import typer`.",
        "",
        "| command | median s | min–max s | over `import typer` s | peak RSS MiB |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| `{r['argv']}` | {r['median_s']:.3f} | {r['min_s']:.3f}–{r['max_s']:.3f} | "
            f"{r['over_import_typer_s']:+.3f} | {r['peak_rss_mib']:.0f} |"
        )
    met = rows[0]["over_import_typer_s"] <= TARGET_S
    lines += [
        "",
        f"`lamina --help` − `import typer`: {rows[0]['over_import_typer_s']:+.3f} s "
        f"(target ≤ {TARGET_S} s: {'met' if met else 'NOT met'}).",
    ]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"→ {out.with_suffix('.md')}, {out.with_suffix('.json')}")


if __name__ == "__main__":
    main()
