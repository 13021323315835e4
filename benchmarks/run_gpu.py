"""Every GPU figure in one command: recommender, SAE, scale (10 M), SASRec and the paper reproduction.

    python benchmarks/run_gpu.py [--device cuda] [--only recommender,sae,scale,sequential,reproduction] [--quick]

Runs each benchmark script on the device with the core only (no Ray, no MLflow, no network:
what the GPU machine has), writes `benchmarks/results/bench_<benchmark>_<device type>.json`, and
prints a table of the headline figures against their goals (README, Performance). `--quick`
shrinks every benchmark to seconds (synthetic data, few epochs, 1 M interactions, the quick
reproduction) to check the command itself, e.g. `--device cpu --quick` in the tests; its
figures are not the benchmarks' and are written under `--out-dir` only when one is given.
ML-1M (and Last.FM for the reproduction) are read from MONOREC_DATA_DIR.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from monorec.devices import resolve_device
from monorec.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ("recommender", "sae", "scale", "sequential", "reproduction")


def commands(device: str, quick: bool, scratch: Path) -> dict[str, list[str]]:
    """The command line of each benchmark (run from the repository root)."""
    python = sys.executable
    return {
        "recommender": [python, "benchmarks/bench_recommender.py", "--search", "--device", device]
        + (["--dataset", "synthetic", "--epochs", "1", "--models", "mf"] if quick else []),
        "sae": [python, "benchmarks/bench_sae.py", "--device", device, "--skip-job"]
        + (["--config", "configs/quick.yaml", "--epochs", "2"] if quick else []),
        "scale": [python, "benchmarks/bench_scale.py", "--device", device, "--sizes", "1M" if quick else "10M"],
        "sequential": [python, "benchmarks/bench_sequential.py", "--device", device]
        + (["--datasets", "ml100k", "--epochs", "1", "--compare", ""] if quick else ["--compare", "mf"]),
        "reproduction": [
            python,
            "jobs/reproduce.py",
            "--device",
            device,
            "--no-tracking",
            "--force",
            "--results-dir",
            str(scratch / "results"),
            "--work-dir",
            str(scratch / "work"),
        ]
        + (["--config", "configs/reproduce_quick.yaml"] if quick else []),
    }


def run(name: str, command: list[str]) -> dict:
    """Run one benchmark; its JSON output (the reproduction prints none: its wall time is the figure)."""
    print(f"run_gpu: {name} ...", file=sys.stderr, flush=True)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-5:]
        print(f"run_gpu: {name} failed:\n" + "\n".join(tail), file=sys.stderr)
        return {"error": tail[-1] if tail else f"exit status {done.returncode}", "wall_seconds": seconds}
    print(f"run_gpu: {name} done in {seconds:.0f} s", file=sys.stderr, flush=True)
    try:
        result = json.loads(done.stdout) if name != "reproduction" else {}
    except json.JSONDecodeError:
        return {"error": "its output was not the JSON it prints", "wall_seconds": seconds}
    return {**result, "wall_seconds": seconds}


def _fast(result: dict, model: str) -> dict:
    return (result.get("models", {}).get(model) or {}).get("fast") or {}


Row = tuple[str, Callable[[dict], float | None], str, Callable[[float], bool] | None]  # None: no goal to meet
HEADLINES: dict[str, list[Row]] = {
    "recommender": [
        (
            "MF samples/s (fastest within 2% NDCG)",
            lambda r: _fast(r, "mf").get("samples_per_second"),
            ">= 150 M",
            lambda v: v >= 150e6,
        ),
        (
            "NCF samples/s (fastest within 2% NDCG)",
            lambda r: _fast(r, "ncf").get("samples_per_second"),
            ">= 100 M",
            lambda v: v >= 100e6,
        ),
    ],
    "sae": [
        (
            "SAE training seconds (fast setting)",
            lambda r: (r.get("fast") or {}).get("train_seconds"),
            "<= 2 s for 18 epochs",
            lambda v: v <= 2.0,
        ),
    ],
    "scale": [
        (
            "end-to-end minutes",
            lambda r: _largest(r).get("wall_seconds", float("nan")) / 60,
            "<= 10 min (10 M)",
            lambda v: v <= 10,
        ),
        ("peak RSS GiB", lambda r: _largest(r).get("peak_rss_gib"), "<= 8 GiB (10 M)", lambda v: v <= 8),
    ],
    "sequential": [
        (
            f"SASRec training seconds, {name}",
            lambda r, dataset=dataset: _sequential(r, dataset).get("train_seconds"),
            "none stated (figure recorded)",
            None,
        )
        for dataset, name in (("ml100k", "ML-100K"), ("ml1m_timestamped", "ML-1M subset"))
    ],
    "reproduction": [
        ("whole reproduction, minutes", lambda r: r["wall_seconds"] / 60, "<= 10 min", lambda v: v <= 10),
    ],
}


def _sequential(result: dict, dataset: str) -> dict:
    found = [r["models"]["monorec SASRec"] for r in result.get("results", []) if r["dataset"] == dataset]
    return found[0] if found else {}


def _largest(result: dict) -> dict:
    sizes = [s for s in result.get("sizes", {}).values() if "wall_seconds" in s]
    return sizes[-1] if sizes else {}


def table(results: dict[str, dict]) -> str:
    lines = ["| benchmark | figure | value | goal | met |", "|---|---|---|---|---|"]
    for name, result in results.items():
        for label, value_of, goal, met in HEADLINES[name]:
            value = None if "error" in result else value_of(result)
            shown = "failed: " + result["error"] if "error" in result else ("n/a" if value is None else f"{value:,.2f}")
            verdict = "" if value is None or met is None else ("yes" if met(value) else "no")
            lines.append(f"| {name} | {label} | {shown} | {goal} | {verdict} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda")
    parser.add_argument(
        "--only", default=",".join(BENCHMARKS), help="comma-separated subset of " + ", ".join(BENCHMARKS)
    )
    parser.add_argument("--quick", action="store_true", help="seconds-long versions, to check the command itself")
    parser.add_argument("--out-dir", type=Path, default=None, help="where the JSON goes (default benchmarks/results)")
    args = parser.parse_args()
    try:
        device = resolve_device(args.device)
    except ConfigError as error:
        parser.error(str(error))
    selected = args.only.split(",")
    unknown = [name for name in selected if name not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}: choose from {', '.join(BENCHMARKS)}")
    out_dir = args.out_dir or (None if args.quick else ROOT / "benchmarks" / "results")
    results = {}
    with tempfile.TemporaryDirectory() as scratch:
        for name, command in commands(str(device), args.quick, Path(scratch)).items():
            if name in selected:
                results[name] = run(name, command)
                if out_dir is not None:
                    out_dir.mkdir(parents=True, exist_ok=True)
                    path = out_dir / f"bench_{name}_{device.type}.json"
                    path.write_text(json.dumps(results[name], indent=2) + "\n")
    print(table(results))
    return 1 if any("error" in result for result in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
