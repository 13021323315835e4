"""Save and load recommenders as safetensors weights plus a JSON description: no pickle."""

from __future__ import annotations

from pathlib import Path

import torch

from monorec.errors import DataError
from monorec.recommenders.base import TwoTowerRecommender
from monorec.recommenders.registry import recommender_from_state
from monorec.storage import load_tensors, read_json, save_tensors, write_json

WEIGHTS, DESCRIPTION = "recommender.safetensors", "recommender.json"


def save_recommender(model: TwoTowerRecommender, folder: Path, metadata: dict | None = None) -> None:
    """Write weights first and the description last, so a description always has its weights."""
    save_tensors(folder / WEIGHTS, model.state_dict())
    write_json(folder / DESCRIPTION, {"architecture": model.architecture(), "metadata": metadata or {}})


def load_recommender(folder: Path, device: torch.device | str = "cpu") -> tuple[TwoTowerRecommender, dict]:
    """The frozen model (eval mode, no grad) and the metadata saved with it."""
    if not (folder / DESCRIPTION).is_file():
        raise DataError(f"no saved recommender in {folder} (expected {DESCRIPTION} and {WEIGHTS})")
    description = read_json(folder / DESCRIPTION)
    model = recommender_from_state(description["architecture"], load_tensors(folder / WEIGHTS))
    return model.to(device), description["metadata"]
