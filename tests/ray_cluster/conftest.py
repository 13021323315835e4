"""A two-node Ray cluster on this machine, shared by the tests of this folder."""

import pytest


@pytest.fixture(scope="package")
def two_nodes():
    """A head and a second node of two logical CPUs each (`monorec.distributed.cluster.local_cluster`),
    this process their driver. Stops when the folder's last test ends, before any other test starts
    a Ray of its own. A test that removes the second node adds one back."""
    pytest.importorskip("ray")
    from monorec.distributed.cluster import local_cluster

    with local_cluster(2, 2) as cluster:
        yield cluster
