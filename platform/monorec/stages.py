"""Named stages of a run, timed: a progress line as each starts and ends, and hooks for benchmarks.

A run on tens of millions of interactions spends minutes per stage; the log says which stage
is running and how long each took. `benchmarks/bench_scale.py` attaches a hook to measure
wall time and peak memory per stage without the pipeline knowing about it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import Literal

log = logging.getLogger(__name__)

StageHook = Callable[[Literal["start", "end"], str, float], None]  # (event, stage, seconds so far)
_hooks: list[StageHook] = []


@contextlib.contextmanager
def stage(name: str) -> Iterator[None]:
    """Time the enclosed block as stage `name`."""
    log.info("%s ...", name)
    for hook in _hooks:
        hook("start", name, 0.0)
    started = time.perf_counter()
    yield
    seconds = time.perf_counter() - started
    log.info("%s done in %.1f s", name, seconds)
    for hook in _hooks:
        hook("end", name, seconds)


@contextlib.contextmanager
def stage_hook(hook: StageHook) -> Iterator[None]:
    """Call `hook` at the start and end of every stage run inside the block."""
    _hooks.append(hook)
    try:
        yield
    finally:
        _hooks.remove(hook)
