"""Recommender and SAE training under Ray Train: the core loops, data parallel across workers.

Each worker runs the unchanged core training function on its shard of every epoch, with
gradients all-reduced over the process group TorchTrainer sets up (gloo on CPU, NCCL on GPU).
Rank 0 writes the core checkpoint after every epoch and reports it to Ray Train with the
epoch's metrics; when a worker dies, Ray restarts the group (up to `train.max_failures`
times) and every worker resumes from that checkpoint. Importing this module needs Ray; the
rest of monorec does not.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Literal

import ray
import ray.train
import torch
from ray.train import Checkpoint, FailureConfig, ScalingConfig
from ray.train.torch import TorchTrainer

from monorec.config import ExperimentConfig, from_dict, to_dict
from monorec.data import load_split
from monorec.parallel import DataParallel
from monorec.recommenders import TwoTowerRecommender, build_recommender, recommender_from_state, train_recommender
from monorec.recommenders.training import CHECKPOINT as RECOMMENDER_CHECKPOINT
from monorec.sae import SparseAutoencoder, train_sae
from monorec.sae.training import CHECKPOINT as SAE_CHECKPOINT
from monorec.storage import load_checkpoint

log = logging.getLogger(__name__)

Stage = Literal["recommender", "sae"]
def init_ray() -> None:
    """Join the cluster of a submitted job (or RAY_ADDRESS), else start a local Ray.

    A local Ray's workers inherit this process's environment (MONOREC_DATA_DIR, MONOREC_HOME,
    MLFLOW_TRACKING_URI); on a cluster they see the `ray start` environment plus the job's
    `--runtime-env-json` env_vars, which is where such settings go (README, Scaling out).
    """
    if not ray.is_initialized():
        ray.init()


def fit(
    stage: Stage,
    config: ExperimentConfig,
    output_dir: Path,
    fingerprint: str,
    recommender: TwoTowerRecommender | None = None,
) -> tuple[dict, list[dict]]:
    """Train `stage` on `config.train.num_workers` workers; return the final state dict and the history."""
    init_ray()
    payload = {"stage": stage, "config": to_dict(config), "fingerprint": fingerprint}
    if recommender is not None:
        payload["recommender"] = {"architecture": recommender.architecture(), "state": _cpu(recommender.state_dict())}
    trainer = TorchTrainer(
        _worker,
        train_loop_config=payload,
        scaling_config=ScalingConfig(num_workers=config.train.num_workers, use_gpu=config.train.use_gpu),
        run_config=ray.train.RunConfig(
            name=f"{stage}-{fingerprint}",
            storage_path=str((output_dir / "ray").resolve()),
            failure_config=FailureConfig(max_failures=config.train.max_failures),
        ),
    )
    result = trainer.fit()
    name = RECOMMENDER_CHECKPOINT if stage == "recommender" else SAE_CHECKPOINT
    with result.checkpoint.as_directory() as folder:
        state = load_checkpoint(Path(folder) / name)
    return state["model" if stage == "recommender" else "sae"], state["history"]


def _worker(payload: dict) -> None:
    config = from_dict(ExperimentConfig, payload["config"])
    parallel = DataParallel.from_process_group()
    device = str(ray.train.torch.get_device())
    _, split = load_split(config.data)
    with tempfile.TemporaryDirectory() as local:
        folder = Path(local)
        restored = ray.train.get_checkpoint()
        if restored is not None:
            with restored.as_directory() as saved:
                shutil.copytree(saved, folder, dirs_exist_ok=True)

        def report(stats: dict) -> None:
            checkpoint = Checkpoint.from_directory(local) if parallel.is_main else None
            ray.train.report({k: v for k, v in stats.items() if isinstance(v, (int, float))}, checkpoint=checkpoint)

        if payload["stage"] == "recommender":
            model = build_recommender(config.model, split.n_users, split.n_items, config.train.seed)
            train = dataclasses.replace(config.train, device=device)
            train_recommender(model, split, train, folder, payload["fingerprint"], report, parallel)
        else:
            saved = payload["recommender"]
            recommender = recommender_from_state(saved["architecture"], saved["state"]).to(device)
            torch.manual_seed(config.sae_train.seed)
            sae = SparseAutoencoder(recommender.embedding_dim, config.sae)
            train = dataclasses.replace(config.sae_train, device=device)
            train_sae(sae, recommender, split, train, folder, payload["fingerprint"], report, parallel)


def _cpu(state: dict) -> dict:
    return {name: tensor.detach().cpu() for name, tensor in state.items()}
