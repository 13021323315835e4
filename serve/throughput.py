"""Ray Serve's throughput mode: HAProxy as the HTTP ingress, talking to the replicas directly.

Ray's default Python HTTP proxy adds a hop and an event loop per request; on the 2-core
benchmark machine it caps the service near 150 req/s, HAProxy lifts it past 400
(benchmarks/bench_serve.py). Ray reads these variables as each of its processes starts, so they
must be in the environment of `ray start` (cluster.yaml exports them) or of the process that
starts a local Ray: `jobs/run_service.py`, the benchmark and the tests call `enable_throughput_mode()`
first. In this mode each replica also listens on its own port (30000-31000) on all interfaces,
so that HAProxy on any node can reach it: on a shared network set MONOREC_API_TOKEN (replicas
enforce it) or firewall those ports.
"""

import os

THROUGHPUT_ENV = {"RAY_SERVE_THROUGHPUT_OPTIMIZED": "1", "RAY_SERVE_ENABLE_HA_PROXY": "1"}


def enable_throughput_mode() -> None:
    """Turn the mode on unless the environment already says otherwise (e.g. `RAY_SERVE_ENABLE_HA_PROXY=0`).

    HAProxy also gets one thread per two cores (Ray's default is 4): it shares the machine with
    the replicas, and on the 2-core box one thread cut the p99 at 16 clients by about a fifth.
    """
    for name, value in {**THROUGHPUT_ENV, "RAY_SERVE_HAPROXY_NBTHREAD": str(haproxy_threads())}.items():
        os.environ.setdefault(name, value)


def haproxy_threads() -> int:
    return max(1, min(4, (os.cpu_count() or 2) // 2))
