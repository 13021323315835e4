"""SAE training speed on ML-1M pairs: batch 256 versus the fast setting, plus the whole job.

    MONOREC_DATA_DIR=../shared/data python benchmarks/bench_sae.py [--device auto] [--skip-job]
                                   [--config configs/ml1m_mf.yaml] [--epochs 18]

Trains the ML-1M MF recommender once (configs/ml1m_mf.yaml), then the SAE for 18 epochs at
batch 256 / lr 1e-3 (the paper's setting) and at each candidate (batch, lr), and reports the
fastest candidate that keeps truncated RBO@29 (report users) within 0.02 of batch 256 and recovers at least as many
genres with purity@10 >= 0.9. Finally times `jobs/train_sae.py` end to end. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from monorec.config import ExperimentConfig, load_config
from monorec.data import load_split
from monorec.devices import resolve_device
from monorec.interpret import interpret_sae
from monorec.pipeline import evaluate_sae, trained_recommender
from monorec.sae import build_sae, train_sae
from monorec.sae.training import sae_folds

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = (256, 1e-3)
CANDIDATES = [(2048, 5e-3), (4096, 1e-2), (8192, 2e-2)]
RBO_TOLERANCE = 0.02


def measure(config: ExperimentConfig, recommender, data, split, batch: int, lr: float, device: torch.device) -> dict:
    train = dataclasses.replace(config.sae_train, batch_size=batch, lr=lr, device=str(device))
    sae = build_sae(config, recommender.embedding_dim)
    result = train_sae(sae, recommender, split, train)
    recommender.to(device)
    report_users = sae_folds(split, train).report
    fidelity = evaluate_sae(sae, recommender, split, config, device, report_users)
    report = interpret_sae(sae, recommender, data, config.interpret)
    pure = sorted(c for c, best in report.mono.concepts.items() if best.purity[10] >= 0.9)
    return {
        "batch_size": batch,
        "lr": lr,
        "epoch_seconds": result.train_seconds / result.epochs,
        "train_seconds": result.train_seconds,
        "rbo_truncated@29": fidelity.rbo_truncated,
        "rbo_extrapolated@20": fidelity.rbo_extrapolated,
        "genres_purity@10>=0.9": pure,
        "popularity_percentile@20": report.mono.popularity_neuron.percentile[20],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--skip-job", action="store_true", help="do not time jobs/train_sae.py")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "ml1m_mf.yaml")
    parser.add_argument("--epochs", type=int, default=None, help="SAE epochs (default: the config's, 18)")
    args = parser.parse_args()
    device = resolve_device(args.device)
    overrides = [f"train.device={device}"] + ([f"sae_train.epochs={args.epochs}"] if args.epochs else [])
    config = load_config(ExperimentConfig, args.config, overrides)
    with tempfile.TemporaryDirectory() as tmp:
        recommender = trained_recommender(config, Path(tmp) / "recommender").to(device)
        data, split = load_split(config.data)
        reference = measure(config, recommender, data, split, *REFERENCE, device)
        candidates = [measure(config, recommender, data, split, b, lr, device) for b, lr in CANDIDATES]
    keeps = [
        c
        for c in candidates
        if c["rbo_truncated@29"] >= reference["rbo_truncated@29"] - RBO_TOLERANCE
        and len(c["genres_purity@10>=0.9"]) >= len(reference["genres_purity@10>=0.9"])
    ]
    fastest = min(keeps, key=lambda c: c["train_seconds"]) if keeps else None
    report = {
        "machine": {
            "device": torch.cuda.get_device_name() if device.type == "cuda" else platform.processor() or "cpu",
            "cpu_threads": torch.get_num_threads(),
            "torch": torch.__version__,
        },
        "sae_epochs": config.sae_train.epochs,
        "batch_256": reference,
        "candidates": candidates,
        "fast": fastest,
        "speedup_vs_batch_256": reference["train_seconds"] / fastest["train_seconds"] if fastest else None,
    }
    if not args.skip_job:
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            command = [
                sys.executable,
                "jobs/train_sae.py",
                "--config",
                str(args.config),
                "--output-dir",
                out,
                "--set",
                f"train.device={device}",
                f"sae_train.device={device}",
            ]
            subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
            report["train_sae_job_seconds"] = time.perf_counter() - started
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
