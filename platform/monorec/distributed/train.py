"""Recommender and SAE training under Ray Train: the core loops, data parallel across workers.

Each worker runs the unchanged core training function on its shard of every epoch, with
gradients all-reduced over the process group TorchTrainer sets up (gloo on CPU, NCCL on GPU).
Rank 0 writes the core checkpoint after every epoch and reports it to Ray Train with the
epoch's metrics; when a worker dies, Ray restarts the group (up to `ray.max_failures` times)
and every worker resumes from that checkpoint.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path
from typing import Literal

import ray.train
import ray.train.torch
from ray.train import Checkpoint, FailureConfig, ScalingConfig
from ray.train.torch import TorchTrainer

from monorec.config import ExperimentConfig
from monorec.data import load_split
from monorec.distributed import init_ray, storage_path
from monorec.distributed.payload import make_payload, payload_config, payload_recommender, restore_checkpoint
from monorec.parallel import DataParallel
from monorec.recommenders import TwoTowerRecommender, build_recommender, train_recommender
from monorec.recommenders.training import CHECKPOINT as RECOMMENDER_CHECKPOINT
from monorec.recommenders.training import RecommenderTask
from monorec.sae import build_sae, train_sae
from monorec.sae.training import CHECKPOINT as SAE_CHECKPOINT
from monorec.sae.training import SAETask
from monorec.storage import load_checkpoint

Stage = Literal["recommender", "sae"]
CHECKPOINTS = {"recommender": (RECOMMENDER_CHECKPOINT, RecommenderTask.name), "sae": (SAE_CHECKPOINT, SAETask.name)}


def fit_on_ray(
    stage: Stage,
    config: ExperimentConfig,
    output_dir: Path,
    fingerprint: str,
    recommender: TwoTowerRecommender | None = None,
) -> tuple[dict, list[dict]]:
    """Train `stage` on `config.ray.num_workers` workers; return the final state dict and the history."""
    init_ray()
    trainer = TorchTrainer(
        _worker,
        train_loop_config=make_payload(config, recommender, stage=stage, fingerprint=fingerprint),
        scaling_config=ScalingConfig(num_workers=config.ray.num_workers, use_gpu=config.ray.use_gpu),
        run_config=ray.train.RunConfig(
            name=f"{stage}-{fingerprint}",
            storage_path=storage_path(config.ray.storage_path, output_dir / "ray"),
            failure_config=FailureConfig(max_failures=config.ray.max_failures),
        ),
    )
    result = trainer.fit()
    filename, key = CHECKPOINTS[stage]
    with result.checkpoint.as_directory() as folder:
        state = load_checkpoint(Path(folder) / filename)
    return state[key], state["history"]


def _worker(payload: dict) -> None:
    config = payload_config(payload)
    parallel = DataParallel.from_process_group()
    device = str(ray.train.torch.get_device())
    _, split = load_split(config.data)
    with tempfile.TemporaryDirectory() as local:
        folder = Path(local)
        restore_checkpoint(ray.train.get_checkpoint(), folder)

        def report(stats: dict) -> None:
            checkpoint = Checkpoint.from_directory(local) if parallel.is_main else None
            ray.train.report({k: v for k, v in stats.items() if isinstance(v, (int, float))}, checkpoint=checkpoint)

        if payload["stage"] == "recommender":
            model = build_recommender(config.model, split.n_users, split.n_items, config.train.seed)
            train = dataclasses.replace(config.train, device=device)
            train_recommender(model, split, train, folder, payload["fingerprint"], report, parallel)
        else:
            recommender = payload_recommender(payload).to(device)
            sae = build_sae(config, recommender.embedding_dim)
            train = dataclasses.replace(config.sae_train, device=device)
            train_sae(sae, recommender, split, train, folder, payload["fingerprint"], report, parallel)
