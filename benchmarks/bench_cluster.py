"""What a second node costs: the same Tune search and Ray Train run on one Ray node and on two.

    python benchmarks/bench_cluster.py [--cpus 4] [--trials 8] [--train-users 6000] > FILE.json

Both layouts run on this machine with the same logical CPUs in all (`--cpus`): one node with all
of them, or two nodes with half each (`ray.cluster_utils.Cluster`, each node its own raylet and
object store; run state on `file://` storage both reach, as a cluster's would be on s3://). The
search is configs/tune_quick.yaml with `--trials` trials, as many at once as there are CPUs; the
Train run is configs/quick.yaml's recommender on `--train-users` synthetic users with two
workers, packed on one node or one per node. Prints one JSON object: per layout the search's
trials per minute and the Train run's samples per second (training epochs only, and end to
end with the workers' start), and each as a ratio two nodes / one node. On one machine the
nodes share its cores, so the ratios measure a second node's overhead (expect <= 1), not a
speed-up. Needs `monorec[ray,mlflow]`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from monorec.config import ExperimentConfig, load_config
from monorec.data import load_split
from monorec.distributed.cluster import local_cluster
from monorec.distributed.train import fit_on_ray
from monorec.pipeline import trained_recommender
from monorec.tune import recommender_cache, run_tune

ROOT = Path(__file__).resolve().parents[1]
PLACEMENT = {1: "STRICT_PACK", 2: "STRICT_SPREAD"}


def measure(nodes: int, args: argparse.Namespace, folder: Path) -> dict:
    """One layout's search and Train run, on a cluster of its own."""
    storage = (folder / "shared").as_uri()
    tune_config = load_config(
        ExperimentConfig,
        ROOT / "configs" / "tune_quick.yaml",
        [f"tune.num_samples={args.trials}", f"tune.max_concurrent_trials={args.cpus}", f"tune.storage_path={storage}",
         f"tune.name=nodes{nodes}", f"tracking.uri=sqlite:///{folder / 'mlflow.db'}", "train.device=cpu"],
    )  # fmt: skip
    train_config = load_config(
        ExperimentConfig,
        ROOT / "configs" / "quick.yaml",
        [f"data.synthetic.n_users={args.train_users}", "train.epochs=3", "train.device=cpu", "ray.num_workers=2",
         f"ray.placement={PLACEMENT[nodes]}", f"ray.storage_path={storage}"],
    )  # fmt: skip
    _, split = load_split(train_config.data)
    trained_recommender(tune_config, recommender_cache(tune_config))  # before the clock, as the job caches it
    with local_cluster(nodes, args.cpus // nodes):
        started = time.perf_counter()
        run_tune(tune_config, folder / "tune")
        search_seconds = time.perf_counter() - started
        started = time.perf_counter()
        _, history = fit_on_ray("recommender", train_config, folder / "train", f"nodes{nodes}", split)
        train_seconds = time.perf_counter() - started
    samples = sum(h["samples"] for h in history)
    return {
        "nodes": nodes,
        "cpus_per_node": args.cpus // nodes,
        "search_seconds": round(search_seconds, 2),
        "trials_per_minute": round(args.trials / (search_seconds / 60), 3),
        "train_seconds_end_to_end": round(train_seconds, 2),
        "train_samples_per_second": round(samples / sum(h["seconds"] for h in history), 1),
        "train_samples_per_second_end_to_end": round(samples / train_seconds, 1),
    }


@contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Everything written to stdout goes to stderr meanwhile, by this process and the Ray processes it
    starts: Tune's progress tables and the search's summary would otherwise corrupt the JSON on stdout."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpus", type=int, default=4, help="logical CPUs in all, split evenly over the nodes")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--train-users", type=int, default=6000)
    args = parser.parse_args()
    if args.cpus < 2 or args.cpus % 2:
        sys.exit("error: --cpus must be an even number >= 2 (two nodes get half each)")
    with tempfile.TemporaryDirectory() as home, stdout_to_stderr():
        os.environ["MONOREC_HOME"] = home  # the search's recommender cache and default stores
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        layouts = {nodes: measure(nodes, args, Path(home) / f"nodes{nodes}") for nodes in (1, 2)}
    one, two = layouts[1], layouts[2]
    result = {
        "machine": {"device": platform.processor() or "cpu", "cpu_count": os.cpu_count(), "torch": torch.__version__},
        "one_node": one,
        "two_nodes": two,
        "ratio_two_over_one": {
            name: round(two[name] / one[name], 3)
            for name in ("trials_per_minute", "train_samples_per_second", "train_samples_per_second_end_to_end")
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
