"""A closed-loop HTTP load generator for the service (loopback only; bounded in count and time).

Each of `clients` coroutines sends its next request as soon as the previous answer arrives,
until `requests` have been sent in total or `seconds` have passed. Used by the reliability
tests, which vary each request; the serving figures are measured with `hey` (benchmarks/bench_serve.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time
from collections.abc import Callable

import aiohttp
import numpy as np


@dataclasses.dataclass
class LoadResult:
    latencies_ms: list[float]
    statuses: list[int]
    seconds: float

    @property
    def failures(self) -> int:
        return sum(1 for status in self.statuses if status != 200)

    def summary(self) -> dict:
        ok = (
            np.array([lat for lat, s in zip(self.latencies_ms, self.statuses) if s == 200])
            if self.statuses
            else np.array([])
        )
        percentile = {f"p{p}_ms": float(np.percentile(ok, p)) if len(ok) else None for p in (50, 95, 99)}
        return {
            "requests": len(self.statuses),
            "failures": self.failures,
            "failure_rate": self.failures / max(len(self.statuses), 1),
            "throughput_rps": len(self.statuses) / self.seconds if self.seconds else 0.0,
            **percentile,
        }


def run_load(
    url: str, body: Callable[[int], dict], clients: int, requests: int, seconds: float, headers: dict | None = None
) -> LoadResult:
    """POST `body(i)` to `url` from `clients` concurrent closed-loop clients."""
    return asyncio.run(_run(url, body, clients, requests, seconds, headers or {}))


async def _run(url, body, clients, requests, seconds, headers) -> LoadResult:
    counter = itertools.count()
    latencies: list[float] = []
    statuses: list[int] = []
    deadline = time.perf_counter() + seconds
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=clients)

    async def client(session: aiohttp.ClientSession) -> None:
        while time.perf_counter() < deadline:
            i = next(counter)
            if i >= requests:
                return
            started = time.perf_counter()
            try:
                async with session.post(url, json=body(i), headers=headers) as response:
                    await response.read()
                    status = response.status
            except (aiohttp.ClientError, asyncio.TimeoutError):
                status = 0
            latencies.append(1000 * (time.perf_counter() - started))
            statuses.append(status)

    started = time.perf_counter()
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        await asyncio.gather(*(client(session) for _ in range(clients)))
    return LoadResult(latencies, statuses, time.perf_counter() - started)
