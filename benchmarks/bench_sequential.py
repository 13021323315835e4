"""monorec's SASRec against RePlay's on one leave-last-out split, with MF and ALS for reference.

    MONOREC_DATA_DIR=../shared/data python benchmarks/bench_sequential.py [--datasets ml100k,ml1m] [--epochs N]
        [--device cuda] [--compare replay,mf,als]

For each dataset (its `configs/<dataset>_sasrec.yaml`: ML-100K, and ML-1M's timestamped subset),
trains monorec's SASRec, then RePlay's (`replay-rec` 0.22, its `SasRec` with cross-entropy over
every item) with the same settings where RePlay has them (d, blocks, heads, dropout, max length,
batch, learning rate, patience on validation NDCG@10, most epochs), and MF and ALS on the same
split. Every model is scored by monorec's evaluator (`evaluation.ranking`, full ranking over every
unseen item) from its user and item vectors. Prints one JSON object: NDCG@10, HR@10 and training
seconds per model, and each dataset's ratios of monorec's SASRec to RePlay's. `--compare` names
the models beside monorec's SASRec (`benchmarks/run_gpu.py` asks for MF alone: the GPU machine has
no network for RePlay's environment and no `implicit` for ALS); `--device` moves monorec's models.

RePlay pins pandas < 3, pyarrow < 24 and scikit-learn < 1.9: it runs in its own virtual
environment (`--venv`, created and filled on first use with torch 2.13.0 first, then
`replay-rec[torch]==0.22.0`), as a subprocess (`benchmarks/peers/replay_sasrec.py`) that reads
the split from parquet files and writes its vectors back. It is never a dependency of monorec.
Where the two differ by design: monorec leaves dropout off the attention weights (RePlay keeps it)
and its feed-forward width is d (RePlay's too); the rest is each library's own (initialisation,
layer norms, RePlay's validation with its own seen-item filter).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from monorec.config import ExperimentConfig, ModelConfig, TrainConfig, load_config
from monorec.data import InteractionData, Split, load_split
from monorec.evaluation import evaluate_ranking
from monorec.recommenders import fit_recommender_kind
from monorec.recommenders.sequence_training import training_sequences

ROOT = Path(__file__).resolve().parents[1]
PEER = ROOT / "benchmarks" / "peers" / "replay_sasrec.py"
PEER_PACKAGES = ("torch==2.13.0", "replay-rec[torch]==0.22.0")
REFERENCES = {  # the two-tower kinds trained on the same split, with their ML-1M settings
    "mf": ModelConfig("mf", 20),
    "als": ModelConfig("als", 64),
}
COMPARED = ("replay", *REFERENCES)  # what `--compare` may name beside monorec's SASRec
REFERENCE_TRAIN = {
    "mf": TrainConfig(epochs=10, batch_size=4096, lr=0.005),
    "als": TrainConfig(epochs=15, weight_decay=0.01),
}


def peer_python(venv: Path) -> Path:
    """RePlay's interpreter, its virtual environment created and filled on first use."""
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating {venv} for RePlay (once)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        for package in PEER_PACKAGES:  # torch first: the CPU build on disk, not a CUDA one
            subprocess.run([str(python), "-m", "pip", "install", "-q", package], check=True)
    return python


def sequence_frames(split: Split) -> dict[str, pd.DataFrame]:
    """The split as RePlay reads it: training sequences, validation inputs and items, test inputs."""
    indptr, items = training_sequences(split)
    full_indptr, full_items = split.history_csr()

    def rows(pointer: np.ndarray, values: np.ndarray, users: np.ndarray) -> list[list[int]]:
        return [values[pointer[u] : pointer[u + 1]].tolist() for u in users]

    trained = np.flatnonzero(np.diff(indptr) >= 2)
    return {
        "train": pd.DataFrame({"user": trained, "items": rows(indptr, items, trained)}),
        "validation": pd.DataFrame(
            {"user": split.test_users, "items": rows(indptr, items, split.test_users), "item": split.validation_items}
        ),
        "test": pd.DataFrame({"user": split.test_users, "items": rows(full_indptr, full_items, split.test_users)}),
    }


def run_peer(python: Path, config: ExperimentConfig, split: Split) -> tuple[dict, np.ndarray, np.ndarray]:
    """RePlay's SASRec on the split: its result, and its (test users, d) and (items, d) vectors."""
    settings = config.model.settings
    with tempfile.TemporaryDirectory(prefix="replay-") as folder:
        for name, frame in sequence_frames(split).items():
            frame.to_parquet(Path(folder) / f"{name}.parquet", index=False)
        shared = {"dim": config.model.embedding_dim, "n_items": split.n_items, "seed": config.train.seed}
        own = {key: getattr(settings, key) for key in ("blocks", "heads", "dropout", "max_len", "patience")}
        run = {"batch_size": config.train.batch_size, "lr": config.train.lr, "epochs": config.train.epochs}
        (Path(folder) / "settings.json").write_text(json.dumps({**shared, **own, **run}))
        subprocess.run([str(python), str(PEER), folder], check=True, stdout=sys.stderr)
        result = json.loads((Path(folder) / "result.json").read_text())
        return result, np.load(Path(folder) / "users.npy"), np.load(Path(folder) / "items.npy")


def vector_ranking(split: Split, users: np.ndarray, items: np.ndarray) -> dict:
    """NDCG@10 and HR@10 of dot-product scores from `users` (one row per test user) and `items`."""
    row = np.full(split.n_users, -1)
    row[split.test_users] = np.arange(len(split.test_users))
    user_table, item_table = torch.as_tensor(users), torch.as_tensor(items)
    rows = torch.as_tensor(row)
    ranking = evaluate_ranking(lambda batch: user_table[rows[batch]] @ item_table.T, split).full
    return {"ndcg@10": ranking.ndcg, "hr@10": ranking.hr}


def fitted(config: ExperimentConfig, data: InteractionData, split: Split) -> dict:
    """A model of `config`'s kind trained on the split: its NDCG@10, HR@10, training seconds and epochs."""
    started = time.perf_counter()
    model, result = fit_recommender_kind(config, data, split)
    seconds = time.perf_counter() - started
    ranking = evaluate_ranking(model.rank_scores, split).full
    return {"ndcg@10": ranking.ndcg, "hr@10": ranking.hr, "train_seconds": seconds, "epochs": result.epochs}


def bench(dataset: str, epochs: int | None, device: str | None, compare: list[str], peer: Path | None) -> dict:
    """monorec's SASRec on `dataset`, with the models named in `compare` (RePlay's when `peer` is its interpreter)."""
    config = load_config(ExperimentConfig, ROOT / "configs" / f"{dataset}_sasrec.yaml")
    train = dataclasses.replace(
        config.train,
        epochs=config.train.epochs if epochs is None else epochs,
        device=config.train.device if device is None else device,
    )
    config = dataclasses.replace(config, train=train)
    data, split = load_split(config.data)
    print(f"{data.name}: {len(split.test_users)} test users, {split.n_items} items", file=sys.stderr)
    models = {"monorec SASRec": fitted(config, data, split)}
    result = {"dataset": data.name, "test_users": len(split.test_users), "max_epochs": train.epochs, "models": models}
    if peer is not None:
        found, users, items = run_peer(peer, config, split)
        models["RePlay SASRec"] = {
            **vector_ranking(split, users, items),
            "train_seconds": found["seconds"],
            "epochs": found["epochs"],
        }
    for kind in (kind for kind in REFERENCES if kind in compare):
        reference = dataclasses.replace(REFERENCE_TRAIN[kind], seed=config.train.seed, device=train.device)
        models[kind.upper()] = fitted(dataclasses.replace(config, model=REFERENCES[kind], train=reference), data, split)
    if peer is not None:
        ours, theirs = models["monorec SASRec"], models["RePlay SASRec"]
        result["ndcg_ratio_to_replay"] = ours["ndcg@10"] / theirs["ndcg@10"]
        result["train_time_ratio_to_replay"] = ours["train_seconds"] / theirs["train_seconds"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="ml100k,ml1m", help="comma-separated: ml100k, ml1m")
    parser.add_argument("--epochs", type=int, default=None, help="most epochs for both SASRecs (default: the config's)")
    parser.add_argument("--device", default=None, help="where monorec's models train (default: the config's)")
    parser.add_argument(
        "--compare", default=",".join(COMPARED), help=f"comma-separated subset of {', '.join(COMPARED)} (or empty)"
    )
    parser.add_argument("--venv", type=Path, default=Path.home() / ".cache" / "monorec" / "replay-venv")
    args = parser.parse_args()
    compare = [name for name in args.compare.split(",") if name]
    if unknown := sorted(set(compare) - set(COMPARED)):
        parser.error(f"unknown --compare {unknown}: choose from {', '.join(COMPARED)}")
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(message)s")  # epochs as they go
    peer = peer_python(args.venv) if "replay" in compare else None
    results = [bench(dataset, args.epochs, args.device, compare, peer) for dataset in args.datasets.split(",")]
    machine = {"machine": platform.machine(), "cpus": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    print(json.dumps({"benchmark": "sequential", **machine, "results": results}, indent=2))


if __name__ == "__main__":
    main()
