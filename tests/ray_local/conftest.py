"""The local Ray these tests share."""

import pytest


@pytest.fixture(scope="package")
def local_ray():
    """One local Ray for the tests of this folder, which drive Ray from this process (Train and
    Serve): starting one costs seconds on two cores. It stops when the folder's last test ends,
    before any other test starts a Ray of its own (`ray start`, as `test_tune.py` does, must find
    the ports free). It starts with Serve's throughput-mode settings, which Ray reads only as it
    starts, and a short drain of stopped replicas (Ray's 30 s lets load balancers on other nodes
    drop them; HAProxy on loopback reloads in well under a second)."""
    ray = pytest.importorskip("ray")
    from serve.throughput import THROUGHPUT_ENV

    with pytest.MonkeyPatch.context() as env:
        for name, value in THROUGHPUT_ENV.items():
            env.setenv(name, value)
        env.setenv("RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S", "5")
        ray.init(num_cpus=2, log_to_driver=False)
    yield
    ray.shutdown()
