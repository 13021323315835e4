"""Recommender and SAE training under Ray Train: the core loops, data parallel across workers.

The driver, which holds the split, writes the pairs to train on for Ray Data
(`monorec.distributed.pairs`); each worker streams its shard and runs the unchanged core
training function on it, with gradients all-reduced over the process group TorchTrainer sets
up (gloo on CPU, NCCL on GPU): for the recommender, its kind's own training task (`KindSpec`,
which travels with the payload, so a kind registered at run time trains too). What a worker
needs beyond its shard travels in Ray's object store: the sorted positive keys its negative
sampler rejects (shared, zero-copy, by the workers of a node), and for the SAE the frozen
recommender and the validation users' seen items. A sequence model (SASRec) trains on whole
sequences, not pairs: each worker gets the split from the object store and walks its equal share
of every epoch's order (`recommenders.sequence_training`), rank 0's validation deciding when all stop.
Rank 0 writes the core checkpoint after every epoch and reports it to Ray Train with the
epoch's metrics; when a worker dies, Ray restarts the group (up to `ray.max_failures` times)
and every worker resumes from that checkpoint.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Literal

import numpy as np
import ray
import ray.train
import ray.train.torch
from ray.train import Checkpoint, FailureConfig, ScalingConfig
from ray.train.torch import TorchTrainer

from monorec.config import ExperimentConfig
from monorec.data import Split
from monorec.data.sampling import NegativeSampler, positive_keys
from monorec.distributed import init_ray, storage_path
from monorec.distributed.pairs import RayDataPairs, ordered_ingest, read_pairs, remove_pairs, write_pairs
from monorec.distributed.payload import make_payload, payload_config, payload_recommender, restore_checkpoint
from monorec.kinds import register
from monorec.parallel import DataParallel
from monorec.recommenders import KindSpec, TwoTowerRecommender, kind_spec
from monorec.recommenders.training import CHECKPOINT as RECOMMENDER_CHECKPOINT
from monorec.recommenders.training import RecommenderTask, fit_recommender
from monorec.sae import build_sae
from monorec.sae.training import CHECKPOINT as SAE_CHECKPOINT
from monorec.sae.training import SAETask, Validation, fit_sae, sae_folds
from monorec.storage import load_checkpoint
from monorec.training import FitOptions

Stage = Literal["recommender", "sae"]
CHECKPOINTS = {"recommender": (RECOMMENDER_CHECKPOINT, RecommenderTask.name), "sae": (SAE_CHECKPOINT, SAETask.name)}
PAIRS = "pairs"


def fit_on_ray(
    stage: Stage,
    config: ExperimentConfig,
    output_dir: Path,
    fingerprint: str,
    split: Split,
    recommender: TwoTowerRecommender | None = None,
) -> tuple[dict, list[dict]]:
    """Train `stage` on `config.ray.num_workers` workers; return the final state dict and the history."""
    init_ray()
    storage = storage_path(config.ray.storage_path, output_dir / "ray")
    kind = kind_spec(config.model.kind)
    pairs_folder, datasets = None, {}
    if stage == "recommender" and kind.trainer is not None:  # a sequence model: each worker holds the split
        extras = {"split": ray.put(split)}
    else:
        extras, rows, seed, window = _pair_inputs(stage, config, split)
        pairs_folder = f"{storage.rstrip('/')}/{stage}-{fingerprint}-pairs"
        written = write_pairs(split.train_users, split.train_items, seed, pairs_folder, window, rows)
        datasets = {PAIRS: read_pairs(written)}
    trainer = TorchTrainer(
        _worker,
        train_loop_config=make_payload(config, recommender, stage=stage, fingerprint=fingerprint, kind=kind, **extras),
        scaling_config=ScalingConfig(
            num_workers=config.ray.num_workers, use_gpu=config.ray.use_gpu, placement_strategy=config.ray.placement
        ),
        run_config=ray.train.RunConfig(
            name=f"{stage}-{fingerprint}",
            storage_path=storage,
            failure_config=FailureConfig(max_failures=config.ray.max_failures),
        ),
        datasets=datasets,
        dataset_config=ordered_ingest(),
    )
    try:
        result = trainer.fit()
    finally:
        if pairs_folder is not None:
            remove_pairs(pairs_folder)  # a copy of the training data: not kept beside the run state
    filename, key = CHECKPOINTS[stage]
    with result.checkpoint.as_directory() as folder:
        state = load_checkpoint(Path(folder) / filename)
    return state[key], state["history"]


def _pair_inputs(stage: Stage, config: ExperimentConfig, split: Split) -> tuple[dict, np.ndarray | None, int, int]:
    """What workers training on pairs need besides their shard, and which pairs they walk (rows, seed, window)."""
    if stage == "recommender":
        extras = {
            "positive_keys": ray.put(positive_keys(split)),
            "item_counts": split.item_counts(),
            "n_users": split.n_users,
            "n_items": split.n_items,
        }
        return extras, None, config.train.seed, config.train.shuffle_window
    folds = sae_folds(split, config.sae_train)
    extras = {"validation": Validation.of(split, folds.validation)}
    return extras, folds.train_rows(split), config.sae_train.seed, config.sae_train.shuffle_window


def _worker(payload: dict) -> None:
    kind: KindSpec = payload["kind"]
    register(kind.traits)  # a worker knows the built-in kinds; this makes one registered at run time known too
    config = payload_config(payload)
    parallel = DataParallel.from_process_group()
    device = ray.train.torch.get_device()
    stage: Stage = payload["stage"]
    pairs = None
    if "split" not in payload:
        window = config.train.shuffle_window if stage == "recommender" else config.sae_train.shuffle_window
        pairs = RayDataPairs(ray.train.get_dataset_shard(PAIRS), max(1, window // parallel.world_size), device)
    with tempfile.TemporaryDirectory() as local:
        folder = Path(local)
        restore_checkpoint(ray.train.get_checkpoint(), folder)

        def report(stats: dict) -> None:
            checkpoint = Checkpoint.from_directory(local) if parallel.is_main else None
            ray.train.report({k: v for k, v in stats.items() if isinstance(v, (int, float))}, checkpoint=checkpoint)

        options = FitOptions(folder, payload["fingerprint"], report, parallel)

        if "split" in payload:  # a sequence model: every worker walks its share of the split's sequences
            split: Split = ray.get(payload["split"])
            here = dataclasses.replace(config, train=dataclasses.replace(config.train, device=str(device)))
            model = kind.new(config.model, split.n_users, split.n_items, config.train.seed)
            kind.trainer(kind.attach(model, split) if kind.attach else model, split, here, options)
        elif stage == "recommender":
            train = dataclasses.replace(config.train, device=str(device))
            model = kind.new(config.model, payload["n_users"], payload["n_items"], train.seed)
            keys = ray.get(payload["positive_keys"])
            sampler = NegativeSampler(
                keys, payload["n_items"], payload["item_counts"], train.negative_sampling, device, seed=train.seed
            )
            fit_recommender(model, pairs, sampler, train, options, kind.task)
        else:
            recommender = payload_recommender(payload).to(device)
            sae = build_sae(config, recommender.embedding_dim)
            train = dataclasses.replace(config.sae_train, device=str(device))
            fit_sae(sae, recommender, pairs, payload["validation"], train, options)
