"""Atomic file writes and pickle-free tensor files: a crash never leaves a half-written artifact."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

log = logging.getLogger(__name__)


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp_path)` then rename the temporary file over `path` (with the usual umask
    permissions, not the owner-only ones of a temporary file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: Path, payload: Any) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n"))


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def save_tensors(path: Path, tensors: dict[str, torch.Tensor]) -> None:
    cpu = {name: t.detach().cpu().contiguous() for name, t in tensors.items()}
    atomic_write(path, lambda tmp: save_file(cpu, str(tmp)))


def load_tensors(path: Path, device: torch.device | str = "cpu") -> dict[str, torch.Tensor]:
    return load_file(str(path), device=str(device))


def save_checkpoint(path: Path, state: dict) -> None:
    """Training state (weights, optimizer, RNG): plain tensors and numbers, loadable with weights_only."""
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_checkpoint(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


Stateful = torch.nn.Module | torch.optim.Optimizer | torch.Generator


def save_training_state(path: Path, stateful: dict[str, Stateful], history: list[dict], fingerprint: str) -> None:
    """Checkpoint every named module, optimizer and RNG with the epoch history, atomically."""
    state = {name: _state_of(obj) for name, obj in stateful.items()}
    save_checkpoint(path, {**state, "history": history, "fingerprint": fingerprint})


def restore_training_state(path: Path | None, fingerprint: str, stateful: dict[str, Stateful]) -> list[dict]:
    """Load the checkpoint at `path` into `stateful` if it belongs to this run; return its history."""
    if path is None or not path.is_file():
        return []
    state = load_checkpoint(path)
    if state.get("fingerprint") != fingerprint:
        log.warning("ignoring %s: it belongs to a different config", path)
        return []
    for name, obj in stateful.items():
        obj.set_state(state[name]) if isinstance(obj, torch.Generator) else obj.load_state_dict(state[name])
    log.info("resuming from %s after epoch %d", path, len(state["history"]))
    return list(state["history"])


def _state_of(obj: Stateful):
    return obj.get_state() if isinstance(obj, torch.Generator) else obj.state_dict()
