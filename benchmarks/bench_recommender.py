"""Recommender training speed on ML-1M: batch 256 versus the fastest setting of equal quality.

    MONOREC_DATA_DIR=../shared/data python benchmarks/bench_recommender.py [--models mf,ncf] [--device auto]
                                                                           [--epochs 10] [--dataset ml1m]

For each model, trains 10 epochs at batch 256 (lr 1e-3, the reference), then each candidate
(batch, lr) setting, and reports the fastest candidate whose NDCG@10 is within 2% (relative) of
the reference. Prints one JSON object: per-epoch seconds, samples/s and NDCG@10 for every run.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from monorec.config import DataConfig, ModelConfig, TrainConfig
from monorec.data import load_split
from monorec.devices import resolve_device
from monorec.evaluation import evaluate_ranking
from monorec.recommenders import build_recommender, train_recommender

REFERENCE = (256, 1e-3)
CANDIDATES = [(4096, 5e-3), (8192, 1e-2), (16384, 2e-2)]
CUDA_CANDIDATES = [*CANDIDATES, (65536, 5e-2), (131072, 1e-1)]  # a GPU only saturates at large batches
QUALITY_TOLERANCE = 0.02


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="mf,ncf")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--dataset", default="ml1m", choices=["ml1m", "lastfm", "synthetic"])
    args = parser.parse_args()
    device = str(resolve_device(args.device))
    started = time.perf_counter()
    _, split = load_split(DataConfig(dataset=args.dataset))
    report: dict = {
        "machine": {
            "device": torch.cuda.get_device_name() if device.startswith("cuda") else platform.processor() or "cpu",
            "cpu_threads": torch.get_num_threads(),
            "torch": torch.__version__,
        },
        "dataset": args.dataset,
        "epochs": args.epochs,
        "models": {},
    }
    for kind in args.models.split(","):
        reference = measure(split, kind, *REFERENCE, device, args.epochs)
        settings = CUDA_CANDIDATES if device.startswith("cuda") else CANDIDATES
        candidates = [measure(split, kind, b, lr, device, args.epochs) for b, lr in settings]
        good = [c for c in candidates if c["ndcg@10"] >= (1 - QUALITY_TOLERANCE) * reference["ndcg@10"]]
        fastest = min(good, key=lambda c: c["train_seconds"]) if good else None
        report["models"][kind] = {
            "batch_256": reference,
            "candidates": candidates,
            "fast": fastest,
            "speedup_vs_batch_256": reference["train_seconds"] / fastest["train_seconds"] if fastest else None,
        }
    report["wall_seconds"] = time.perf_counter() - started
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
