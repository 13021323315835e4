"""The whole pipeline at 1 M to 100 M interactions: wall time and peak memory per stage.

    python benchmarks/bench_scale.py [--sizes 1M,10M,50M] [--device auto] [--out FILE]

For each size, in a fresh process (so peak memory is that size's own): generate a synthetic
catalogue with planted genres (users = interactions / 100, items = 2000 x sqrt(interactions /
1 M), 20 genres, about 60% of each user's items from their two genres) and write it to parquet,
then run `monorec.pipeline.run_sae` on it with configs/scale.yaml (MF d 32, 2 epochs, batch
16,384; SAE 64 neurons, 2 epochs): load and split, train and evaluate the recommender (ranking
metrics on a seeded 100,000 test users at every size, `eval.max_users`), train the SAE,
evaluate it on its report users, interpret it, run the case studies. Prints one JSON object:
per stage its wall seconds and peak resident memory (sampled every 20 ms, so a shorter spike can
slip between samples), the size's peak resident memory as the kernel counts it (`ru_maxrss` of
its process and any child it ran: no spike escapes it, though the kernel sums the count lazily
and may trail a sample by a few MiB), training samples/s, and the planted
genres' best-neuron purity@10 (quality at scale), each size's seconds per interaction relative
to the smallest size, and how far each size with a target (10 M, 50 M, 100 M) is from it.
Core only: no Ray, no MLflow.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

from monorec.config import ExperimentConfig, SyntheticConfig, load_config
from monorec.data.synthetic import write_synthetic
from monorec.devices import resolve_device
from monorec.pipeline import run_sae
from monorec.results import RecommenderRun, read_result
from monorec.stages import stage, stage_hook

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"1M": 10**6, "10M": 10**7, "50M": 5 * 10**7, "100M": 10**8}
PER_USER = 100
GENRES = 20
GIB = 2**30
TARGETS = {  # end to end, generation included
    "10M": {"minutes": 10, "peak_rss_gib": 8},
    "50M": {"minutes": 45, "peak_rss_gib": 16},
    "100M": {"minutes": 20, "peak_rss_gib": 6},
}


class PeakMemory:
    """Resident memory sampled every 20 ms; the peak since the current stage started, per stage.

    Sampling can miss a spike shorter than its period: the size's own peak is `kernel_peak`.
    """

    def __init__(self) -> None:
        self.stage_peak, self.stages, self.peak = 0, {}, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self._record()

    def _record(self) -> int:
        with open("/proc/self/statm") as statm:
            resident = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        self.stage_peak, self.peak = max(self.stage_peak, resident), max(self.peak, resident)
        return resident

    def hook(self, event: str, name: str, seconds: float) -> None:
        if event == "start":
            self.stage_peak = self._record()
        else:
            self._record()
            self.stages[name] = {"seconds": round(seconds, 2), "peak_rss_gib": round(self.stage_peak / GIB, 3)}

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def kernel_peak() -> int:
    """Bytes: the largest resident set this process, or any child it waited for, ever had (`ru_maxrss`, KiB)."""
    usage = (resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return max(usage) * 1024


def against_target(result: dict, target: dict) -> dict:
    """How far a size's time and peak memory are from its target (positive: over it, by that much)."""
    minutes = result["wall_seconds"] / 60
    return {
        "minutes": round(minutes, 2),
        "minutes_over_target": round(minutes - target["minutes"], 2),
        "peak_rss_gib": result["peak_rss_gib"],
        "peak_rss_gib_over_target": round(result["peak_rss_gib"] - target["peak_rss_gib"], 3),
        "met": minutes <= target["minutes"] and result["peak_rss_gib"] <= target["peak_rss_gib"],
    }


def synthetic_options(interactions: int) -> SyntheticConfig:
    return SyntheticConfig(
        n_users=interactions // PER_USER,
        n_items=round(2000 * math.sqrt(interactions / 10**6)),
        n_genres=GENRES,
        genres_per_user=2,
        interactions_per_user=PER_USER,
        genre_affinity=10.0,
        seed=0,
    )


def run_one(size: str, device: str) -> dict:
    """One size end to end in this process."""
    interactions = SIZES[size]
    options = synthetic_options(interactions)
    memory = PeakMemory()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp, stage_hook(memory.hook):
        os.environ["MONOREC_CACHE_DIR"] = str(Path(tmp) / "cache")  # a cold parse, as a new user's first run
        with stage("generate data"):
            paths = write_synthetic(options, Path(tmp) / "data")
        config = load_config(
            ExperimentConfig,
            ROOT / "configs" / "scale.yaml",
            [
                f"data.generic.interactions_path={paths[0]}",
                f"data.generic.items_path={paths[1]}",
                f"train.device={device}",
                f"sae_train.device={device}",
            ],
        )
        run = run_sae(config, Path(tmp) / "run")
        recommender = read_result(RecommenderRun, Path(tmp) / "run" / "recommender" / "metrics.json")
    wall = time.perf_counter() - started
    memory.stop()
    purity = {genre: best.purity[10] for genre, best in run.mono.concepts.items()}
    return {
        "interactions": interactions,
        "users": options.n_users,
        "items": options.n_items,
        "wall_seconds": round(wall, 1),
        "seconds_per_million_interactions": round(wall / (interactions / 1e6), 2),
        "peak_rss_gib": round(kernel_peak() / GIB, 3),
        "sampled_peak_rss_gib": round(memory.peak / GIB, 3),
        "stages": memory.stages,
        "recommender_samples_per_second": round(recommender.training.samples_per_second),
        "recommender_evaluated_users": recommender.dataset.n_evaluated_users,
        "recommender_ndcg@10": recommender.model.full.ndcg,
        "popularity_ndcg@10": recommender.popularity.full.ndcg,
        "sae_samples_per_second": round(run.training.samples_per_second),
        "report_users": run.fidelity.users,
        "rbo_truncated@29": run.fidelity.rbo_truncated,
        "planted_genres": len(purity),
        "genres_purity@10>=0.9": sum(p >= 0.9 for p in purity.values()),
        "mean_best_purity@10": sum(purity.values()) / max(len(purity), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1M,10M,50M", help=f"comma-separated, of {', '.join(SIZES)}")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one size in this process
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    device = str(resolve_device(args.device))
    if args.one:
        print(json.dumps(run_one(args.one, device)))
        return
    sizes = args.sizes.split(",")
    unknown = [s for s in sizes if s not in SIZES]
    if unknown:
        parser.error(f"unknown size(s) {unknown}: use {', '.join(SIZES)}")
    results = {}
    for size in sizes:
        print(f"bench_scale: {size} interactions ...", file=sys.stderr, flush=True)
        done = subprocess.run(
            [sys.executable, __file__, "--one", size, "--device", device], capture_output=True, text=True
        )
        if done.returncode != 0:
            results[size] = {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
            print(done.stderr[-3000:], file=sys.stderr)
            continue
        results[size] = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"bench_scale: {size} done in {results[size]['wall_seconds']} s", file=sys.stderr, flush=True)
    measured = {size: r for size, r in results.items() if "wall_seconds" in r}
    smallest = next(iter(measured.values()), None)
    for result in measured.values():
        result["time_per_interaction_vs_smallest"] = round(
            result["seconds_per_million_interactions"] / smallest["seconds_per_million_interactions"], 3
        )
    report = {
        "machine": {
            "device": torch.cuda.get_device_name() if device.startswith("cuda") else platform.processor() or "cpu",
            "cpu_threads": torch.get_num_threads(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / GIB, 1),
            "torch": torch.__version__,
        },
        "config": "configs/scale.yaml",
        "targets": TARGETS,
        "vs_targets": {size: against_target(results[size], TARGETS[size]) for size in TARGETS if size in measured},
        "sizes": results,
    }
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
