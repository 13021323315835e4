"""A two-node Ray cluster on this machine, shared by the tests of this folder."""

import pytest


@pytest.fixture(scope="package")
def two_nodes():
    """A head and a second node, two logical CPUs each (on a 2-core box they share the cores:
    logical CPUs let a Train worker or Tune trial and Ray Data's tasks run on each node), and
    this process connected as the driver. Yields the cluster; the second node is `worker_nodes`.
    Stops before the folder's tests end, before any other test starts a Ray of its own."""
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    cluster.add_node(num_cpus=2)
    ray.init(address=cluster.address, log_to_driver=False)
    cluster.wait_for_nodes()
    yield cluster
    ray.shutdown()
    cluster.shutdown()
