"""Save and load an SAE as safetensors plus JSON, with a reference to the recommender it explains."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from monorec.config import SAEConfig
from monorec.errors import DataError
from monorec.sae.model import SparseAutoencoder
from monorec.storage import load_tensors, read_json, save_tensors, write_json
from monorec.typed import from_dict

WEIGHTS, DESCRIPTION = "sae.safetensors", "sae.json"


def save_sae(sae: SparseAutoencoder, folder: Path, recommender: dict) -> None:
    """`recommender` identifies the frozen model: its folder (relative to `folder`) and config hash."""
    save_tensors(folder / WEIGHTS, sae.state_dict())
    description = {
        "config": dataclasses.asdict(sae.config),
        "embedding_dim": sae.embedding_dim,
        "recommender": recommender,
    }
    write_json(folder / DESCRIPTION, description)


def load_sae(folder: Path, device: torch.device | str = "cpu") -> tuple[SparseAutoencoder, dict]:
    """The SAE in eval mode and the reference to its recommender."""
    if not (folder / DESCRIPTION).is_file():
        raise DataError(f"no saved SAE in {folder} (expected {DESCRIPTION} and {WEIGHTS})")
    description = read_json(folder / DESCRIPTION)
    sae = SparseAutoencoder(description["embedding_dim"], from_dict(SAEConfig, description["config"]))
    sae.load_state_dict(load_tensors(folder / WEIGHTS))
    return sae.to(device).eval(), description["recommender"]
