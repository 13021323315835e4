"""What a Ray Train worker or a Tune trial receives and restores: shared by both, no shared disk needed.

A remote process gets the experiment config and the frozen recommender's weights in its
arguments (Ray's object store carries them), and restores its training checkpoint from what
Ray hands back after a failure, into a local folder the core training loop resumes from.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import ray.train

from monorec.config import ExperimentConfig
from monorec.recommenders import TwoTowerRecommender, recommender_from_state
from monorec.typed import from_dict, to_dict


def make_payload(config: ExperimentConfig, recommender: TwoTowerRecommender | None = None, **extra: object) -> dict:
    """Plain data for a remote process: the config, the recommender (CPU tensors) and any extras."""
    payload: dict = {"config": to_dict(config), **extra}
    if recommender is not None:
        state = {name: tensor.detach().cpu() for name, tensor in recommender.state_dict().items()}
        payload["recommender"] = {"architecture": recommender.architecture(), "state": state}
    return payload


def payload_config(payload: dict) -> ExperimentConfig:
    return from_dict(ExperimentConfig, payload["config"])


def payload_recommender(payload: dict) -> TwoTowerRecommender:
    saved = payload["recommender"]
    return recommender_from_state(saved["architecture"], saved["state"])


def restore_checkpoint(checkpoint: ray.train.Checkpoint | None, folder: Path) -> None:
    """Copy the checkpoint Ray restored (after a failure or a resumed search) into `folder`."""
    if checkpoint is not None:
        with checkpoint.as_directory() as saved:
            shutil.copytree(saved, folder, dirs_exist_ok=True)
