"""Device selection: `auto` takes CUDA when present, so the same config runs on a laptop and a GPU."""

from __future__ import annotations

import torch

from monorec.errors import ConfigError


def resolve_device(name: str = "auto") -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r} (use 'auto', 'cpu' or 'cuda[:N]')") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} requested but CUDA is not available here (use 'auto' or 'cpu')")
    return device


def fused_adam(device: torch.device) -> dict:
    """Adam's fused kernel on CUDA (one launch per step instead of one per parameter); default elsewhere."""
    return {"fused": True} if device.type == "cuda" else {}
