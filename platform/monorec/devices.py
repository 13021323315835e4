"""Device selection (`auto` takes CUDA when present, so the same config runs on a laptop and a GPU),
and arrays onto a device without torch's warning on read-only ones."""

from __future__ import annotations

import numpy as np
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


def tensor_of(
    array: np.ndarray, dtype: torch.dtype | None = None, device: torch.device | str | None = None
) -> torch.Tensor:
    """`array` as a tensor: its memory shared where torch can share it (as `torch.as_tensor`), unless read-only.

    Ray's object store hands trials and Ray Train workers read-only arrays (pandas' `to_numpy` may
    too). torch has no read-only tensors: `torch.as_tensor` warns on such an array, even where it
    converts it to another dtype or device and shares nothing. A read-only array is copied instead,
    once: where torch converts it, that is the copy it makes anyway; where it would share, the copy
    keeps writes through the tensor out of memory nobody may write. A large array that is only ever
    read may rather be shared on purpose, as `data.sampling` shares its keys.
    """
    return torch.asarray(array, dtype=dtype, device=device, copy=None if array.flags.writeable else True)
