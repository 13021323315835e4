"""Recommenders of every kind and SAEs trained once per test session on the planted synthetic dataset."""

from __future__ import annotations

import dataclasses
import functools

import pytest
import torch

from monorec.config import (
    ExperimentConfig,
    InterpretConfig,
    ModelConfig,
    SAEConfig,
    SAETrainConfig,
    SyntheticConfig,
    TrainConfig,
)
from monorec.data import make_synthetic, split_dataset
from monorec.interpret import interpret_sae
from monorec.recommenders import TwoTowerRecommender, build_recommender, train_recommender
from monorec.recommenders.lightgcn import BPRTask, LightGCN
from monorec.recommenders.registry import fit_recommender_kind
from monorec.sae import SparseAutoencoder, train_sae

SAE_TRAIN = SAETrainConfig(epochs=12, batch_size=256, lr=1e-3, device="cpu")
IMPLICIT_TRAIN = {  # ALS's and BPR's settings for `implicit`'s solvers on the planted dataset
    "als": TrainConfig(epochs=15, weight_decay=0.01),
    "bpr": TrainConfig(epochs=100, lr=0.01, weight_decay=0.01),
}


@functools.cache
def planted():
    """(data, truth, split, frozen MF recommender) for the default synthetic options."""
    data, truth = make_synthetic(SyntheticConfig())
    split = split_dataset(data)
    model = build_recommender(ModelConfig(embedding_dim=16), split.n_users, split.n_items)
    train_recommender(model, split, TrainConfig(epochs=15, batch_size=512, lr=0.01, weight_decay=1e-4, device="cpu"))
    return data, truth, split, model.requires_grad_(False)


@functools.cache
def planted_ncf():
    """NCF on the planted dataset, its embedding tables started from the planted MF's, then trained 3
    epochs (no decay). Started from random tables, its items' space holds the planted genres so loosely
    that whether the SAE finds a pure Horror neuron depends on the seed and the CPU's float rounding."""
    _, _, split, mf = planted()
    model = build_recommender(ModelConfig("ncf", embedding_dim=16), split.n_users, split.n_items)
    with torch.no_grad():
        model.user_embedding.weight.copy_(mf.user_embeddings())
        model.item_embedding.weight.copy_(mf.item_embeddings())
    train_recommender(model, split, TrainConfig(epochs=3, batch_size=512, lr=0.01, device="cpu"))
    return model.requires_grad_(False)


@functools.cache
def planted_implicit(kind: str) -> TwoTowerRecommender:
    """ALS or BPR (`IMPLICIT_TRAIN[kind]`) fitted by `implicit` on the planted dataset; skipped without it."""
    pytest.importorskip("implicit")
    data, _, split, _ = planted()
    return fit_recommender_kind(ExperimentConfig(model=ModelConfig(kind, 16), train=IMPLICIT_TRAIN[kind]), data, split)[
        0
    ]


def lightgcn(epochs: int) -> LightGCN:
    """LightGCN trained `epochs` on the planted dataset, before freezing (its graph attached)."""
    _, _, split, _ = planted()
    model = build_recommender(ModelConfig("lightgcn", 16), split.n_users, split.n_items, seed=0).attach(split)
    config = TrainConfig(epochs=epochs, batch_size=1024, lr=0.05, weight_decay=1e-4, device="cpu")
    train_recommender(model, split, config, task_type=BPRTask)
    return model


@functools.cache
def planted_lightgcn() -> TwoTowerRecommender:
    """LightGCN trained 20 epochs on the planted dataset, frozen to its propagated factors."""
    return lightgcn(epochs=20).frozen()


@functools.cache
def trained_sae(n_latents: int = 24, activation: str = "relu", k: int = 4, matryoshka: tuple[int, ...] = (), **train):
    """(sae, training result, neuron report) for one SAE setting, trained on the planted recommender."""
    data, _, split, model = planted()
    torch.manual_seed(0)
    sae = SparseAutoencoder(16, SAEConfig(n_latents=n_latents, activation=activation, k=k, matryoshka=list(matryoshka)))
    result = train_sae(sae, model, split, dataclasses.replace(SAE_TRAIN, **train))
    return sae, result, interpret_sae(sae, model, data, InterpretConfig())
