"""Atomic file writes and pickle-free tensor files: a crash never leaves a half-written artifact."""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

log = logging.getLogger(__name__)


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp_path)`, flush it to disk, then rename it over `path`: all of it or none.

    The temporary file is created with mode 0o666, which the process umask narrows as it does
    for any new file: no process-wide umask is ever changed. It is fsynced before the rename and
    the folder after it, so after a crash `path` holds either the old content or the new.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.tmp"
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    try:
        write(tmp)
        _fsync(tmp)
        os.replace(tmp, path)
        _fsync(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _fsync(path: Path) -> None:
    """Flush a file's (or a folder's entries') data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_folder(staging: Path, folder: Path) -> None:
    """Swap a complete `staging` folder in at `folder` by renames, then delete what it replaced."""
    for entry in staging.iterdir():
        _fsync(entry)
    _fsync(staging)
    retired = folder.parent / f".{folder.name}.old-{uuid.uuid4().hex[:12]}"
    if folder.exists():
        os.replace(folder, retired)
    os.replace(staging, folder)
    _fsync(folder.parent)
    shutil.rmtree(retired, ignore_errors=True)


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock on `path` (created if needed) across processes, held for the block.

    Serialises work that must happen once, like a dataset download or a cache build, when
    several jobs or Ray workers on one machine start at the same time.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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
    if missing := [name for name in stateful if name not in state]:
        log.warning("ignoring %s: written by another version of monorec (no %s)", path, ", ".join(missing))
        return []
    for name, obj in stateful.items():
        obj.set_state(state[name]) if isinstance(obj, torch.Generator) else obj.load_state_dict(state[name])
    log.info("resuming from %s after epoch %d", path, len(state["history"]))
    return list(state["history"])


def _state_of(obj: Stateful):
    return obj.get_state() if isinstance(obj, torch.Generator) else obj.state_dict()
