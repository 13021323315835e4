"""A multi-node Ray cluster on this one machine: what a second node changes, without a second machine.

Each node is a raylet with its own object store and worker processes (Ray's
`ray.cluster_utils.Cluster`), so placement, object transfer between nodes and a node's loss
behave as on a real cluster; the nodes share the machine's cores. The cluster tests
(`tests/ray_cluster/`) and `benchmarks/bench_cluster.py` run on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import ray
from ray.cluster_utils import Cluster


@contextmanager
def local_cluster(nodes: int, cpus_per_node: int) -> Iterator[Cluster]:
    """`nodes` Ray nodes of `cpus_per_node` logical CPUs each, this process connected as their driver.

    Logical CPUs may exceed the cores: on a 2-core box two per node let a Train worker or Tune
    trial and Ray Data's tasks all find room on each node.
    """
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": cpus_per_node})
    try:
        for _ in range(nodes - 1):
            cluster.add_node(num_cpus=cpus_per_node)
        ray.init(address=cluster.address, log_to_driver=False)
        cluster.wait_for_nodes()
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()
