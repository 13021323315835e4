"""Recommender training on ML-1M: every model kind side by side, or the batch-size search for MF/NCF.

    MONOREC_DATA_DIR=../shared/data python benchmarks/bench_recommender.py [--device auto]
    MONOREC_DATA_DIR=../shared/data python benchmarks/bench_recommender.py --search [--models mf,ncf] [--epochs 10]

Default (the model-kind table): trains every model kind from its config file
(configs/ml1m_<kind>.yaml) plus MF at the paper's batch 256, one after another in this process on
the same split, and reports each one's train time and NDCG@10 (full ranking, 5 held-out
positives per user, training items masked). These are the rows of the README's and the
results page's recommender table.

--search: for each of MF and NCF, trains 10 epochs at batch 256 (lr 1e-3, the reference), then
each candidate (batch, lr) setting, and reports the fastest candidate whose NDCG@10 is within 2%
(relative) of the reference: how the configs' batch sizes were chosen.
Prints one JSON object either way.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import sys
import time
from pathlib import Path

import torch

from monorec.config import DataConfig, ExperimentConfig, ModelConfig, TrainConfig, load_config
from monorec.data import load_split
from monorec.devices import resolve_device
from monorec.evaluation import evaluate_ranking
from monorec.recommenders import build_recommender, fit_recommender_kind, train_recommender

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
KINDS = {  # table row -> config file
    "MF": "ml1m_mf.yaml",
    "NCF": "ml1m_ncf.yaml",
    "LightGCN": "ml1m_lightgcn.yaml",
    "ALS (20 factors)": "ml1m_als.yaml",
    "ALS (64 factors)": "ml1m_als64.yaml",
    "BPR (20 factors)": "ml1m_bpr.yaml",
}
PAPER_BATCH = ("MF, batch 256 (the paper's)", "ml1m_mf.yaml", ["train.batch_size=256", "train.lr=0.001"])
REFERENCE = (256, 1e-3)
CANDIDATES = [(4096, 5e-3), (8192, 1e-2), (16384, 2e-2)]
CUDA_CANDIDATES = [*CANDIDATES, (65536, 5e-2), (131072, 1e-1)]  # a GPU only saturates at large batches
QUALITY_TOLERANCE = 0.02


def kind_table(device: str) -> dict:
    """Train time and NDCG@10 of every model kind, on one split, in this process."""
    rows = [(name, path, []) for name, path in KINDS.items()] + [PAPER_BATCH]
    data, split = load_split(DataConfig(dataset="ml1m"))
    table = {}
    for name, path, overrides in rows:
        config = load_config(ExperimentConfig, CONFIGS / path, [*overrides, f"train.device={device}"])
        started = time.perf_counter()
        model, result = fit_recommender_kind(config, data, split)
        seconds = time.perf_counter() - started
        ndcg = evaluate_ranking(model.rank_scores, split, config.eval.k, device=result.device).full.ndcg
        table[name] = {
            "config": " ".join([f"configs/{path}", *(f"--set {o}" for o in overrides)]),
            "kind": config.model.kind,
            "factors": config.model.embedding_dim,
            "train": dataclasses.asdict(config.train),
            "train_seconds": seconds,
            "ndcg@10": ndcg,
        }
        print(f"{name}: {seconds:.1f} s, NDCG@10 {ndcg:.3f}", flush=True, file=sys.stderr)
    return table


def measure(split, kind: str, batch: int, lr: float, device: str, epochs: int) -> dict:
    model = build_recommender(ModelConfig(kind=kind, embedding_dim=20), split.n_users, split.n_items)
    config = TrainConfig(epochs=epochs, batch_size=batch, lr=lr, device=device)
    result = train_recommender(model, split, config)
    ndcg = evaluate_ranking(model.rank_scores, split, device=result.device).full.ndcg
    return {
        "batch_size": batch,
        "lr": lr,
        "epoch_seconds": result.train_seconds / result.epochs,
        "train_seconds": result.train_seconds,
        "samples_per_second": result.samples_per_second,
        "ndcg@10": ndcg,
    }


def batch_search(models: list[str], device: str, epochs: int, dataset: str) -> dict:
    _, split = load_split(DataConfig(dataset=dataset))
    found = {}
    for kind in models:
        reference = measure(split, kind, *REFERENCE, device, epochs)
        settings = CUDA_CANDIDATES if device.startswith("cuda") else CANDIDATES
        candidates = [measure(split, kind, b, lr, device, epochs) for b, lr in settings]
        good = [c for c in candidates if c["ndcg@10"] >= (1 - QUALITY_TOLERANCE) * reference["ndcg@10"]]
        fastest = min(good, key=lambda c: c["train_seconds"]) if good else None
        found[kind] = {
            "batch_256": reference,
            "candidates": candidates,
            "fast": fastest,
            "speedup_vs_batch_256": reference["train_seconds"] / fastest["train_seconds"] if fastest else None,
        }
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--search", action="store_true", help="the MF/NCF batch-size search instead of the table")
    parser.add_argument("--models", default="mf,ncf", help="--search only")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--epochs", type=int, default=10, help="--search only")
    parser.add_argument("--dataset", default="ml1m", choices=["ml1m", "lastfm", "synthetic"], help="--search only")
    args = parser.parse_args()
    device = str(resolve_device(args.device))
    started = time.perf_counter()
    report: dict = {
        "machine": {
            "device": torch.cuda.get_device_name() if device.startswith("cuda") else platform.processor() or "cpu",
            "cpu_threads": torch.get_num_threads(),
            "torch": torch.__version__,
        },
    }
    if args.search:
        report |= {"dataset": args.dataset, "epochs": args.epochs}
        report["models"] = batch_search(args.models.split(","), device, args.epochs, args.dataset)
    else:
        report |= {"dataset": "ml1m", "kinds": kind_table(device)}
    report["wall_seconds"] = time.perf_counter() - started
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
