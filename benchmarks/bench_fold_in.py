"""Users the model never saw, folded in from their history: ranking quality against trained users, and latency.

    MONOREC_DATA_DIR=../shared/data python benchmarks/bench_fold_in.py [--kinds mf,ncf,lightgcn,als,bpr]

For each model kind (its `configs/ml1m_<kind>.yaml`), two measures of NDCG@10 on held-out positives,
folded-in against trained (`monorec.recommenders.fold_in`, the kind's own method):

    report users   the SAE's report users, each folded in from their training items. Their
                   interactions trained the item factors, so this isolates the fold-in itself.
    held-out users a seeded 5% of users removed from the recommender's training altogether
                   (a second recommender is trained without them), folded in from the items they
                   would have trained on, against the full model's NDCG on the same users.

and the fold-in's latency per user (median and p99 over the report users, one user at a time, as
the service folds them). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from monorec.config import ExperimentConfig, load_config
from monorec.data import Split, load_split
from monorec.evaluation import evaluate_ranking
from monorec.recommenders import fit_recommender_kind
from monorec.recommenders.base import TwoTowerRecommender
from monorec.recommenders.fold_in import FoldIn
from monorec.recommenders.registry import fold_in_for
from monorec.sae.training import sae_folds

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {"mf": "ml1m_mf", "ncf": "ml1m_ncf", "lightgcn": "ml1m_lightgcn", "als": "ml1m_als", "bpr": "ml1m_bpr"}
HELD_OUT_SHARE, HELD_OUT_SEED = 0.05, 0


def without_users(split: Split, users: np.ndarray) -> Split:
    """The split with `users`' training pairs removed (their test positives stay, for evaluation)."""
    keep = ~np.isin(split.train_users, users)
    return dataclasses.replace(split, train_users=split.train_users[keep], train_items=split.train_items[keep])


def folded_ndcg(
    model: TwoTowerRecommender, fold: FoldIn, split: Split, histories: Split, users: np.ndarray
) -> tuple[float, list[float]]:
    """NDCG@10 of `users` ranked by embeddings folded in from their `histories` training items; ms per user."""
    indptr, items = histories.train_csr()
    embeddings, milliseconds = {}, []
    for user in users:
        started = time.perf_counter()
        embeddings[int(user)] = fold(model, torch.as_tensor(items[indptr[user] : indptr[user + 1]]))
        milliseconds.append(1000 * (time.perf_counter() - started))

    def scores(index: torch.Tensor) -> torch.Tensor:
        stacked = torch.stack([embeddings[int(u)] for u in index])
        return model.logits_all(None, stacked, model.item_embeddings())

    with torch.no_grad():
        return evaluate_ranking(scores, split, 10, 1024, "cpu", users).full.ndcg, milliseconds


def trained_ndcg(model: TwoTowerRecommender, split: Split, users: np.ndarray) -> float:
    with torch.no_grad():
        return evaluate_ranking(model.rank_scores, split, 10, 1024, "cpu", users).full.ndcg


def bench_kind(kind: str) -> dict:
    config = load_config(ExperimentConfig, ROOT / "configs" / f"{CONFIGS[kind]}.yaml", ["train.device=cpu"])
    data, split = load_split(config.data)
    fold = fold_in_for(kind, config.train)
    started = time.perf_counter()
    model, _ = fit_recommender_kind(config, data, split)
    train_seconds = time.perf_counter() - started
    report = sae_folds(split, config.sae_train).report
    folded, milliseconds = folded_ndcg(model, fold, split, split, report)
    trained = trained_ndcg(model, split, report)

    rng = np.random.default_rng(HELD_OUT_SEED)
    held_out = np.sort(rng.choice(split.n_users, round(HELD_OUT_SHARE * split.n_users), replace=False))
    held_out = held_out[np.isin(held_out, split.test_users)]
    partial, _ = fit_recommender_kind(config, data, without_users(split, held_out))
    unseen, _ = folded_ndcg(partial, fold, split, split, held_out)
    trained_on_them = trained_ndcg(model, split, held_out)
    return {
        "fold_in": repr(fold),
        "train_seconds": train_seconds,
        "report_users": {
            "users": len(report),
            "ndcg_trained": trained,
            "ndcg_folded_in": folded,
            "ratio": folded / trained,
        },
        "held_out_users": {
            "users": len(held_out),
            "share": HELD_OUT_SHARE,
            "seed": HELD_OUT_SEED,
            "ndcg_trained_with_them": trained_on_them,
            "ndcg_folded_in_never_trained": unseen,
            "ratio": unseen / trained_on_them,
        },
        "fold_in_ms": {"median": float(np.median(milliseconds)), "p99": float(np.percentile(milliseconds, 99))},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kinds", default=",".join(CONFIGS), help=f"comma-separated, of {', '.join(CONFIGS)}")
    args = parser.parse_args()
    torch.set_grad_enabled(True)  # the gradient fold-in needs it; the others turn it off themselves
    results = {}
    kinds = args.kinds.split(",")
    if unknown := sorted(set(kinds) - set(CONFIGS)):
        parser.error(f"unknown kinds {unknown}; there are {', '.join(CONFIGS)}")
    for kind in kinds:
        print(f"fold-in: {kind} ...", file=sys.stderr, flush=True)
        results[kind] = bench_kind(kind)
    machine = {"processor": platform.processor() or "cpu", "cpu_count": os.cpu_count(), "torch": torch.__version__}
    print(json.dumps({"machine": machine, "dataset": "ml1m", "kinds": results}, indent=2))


if __name__ == "__main__":
    main()
