"""What a second node changes: Train workers on two nodes, run state on shared storage, a node lost
mid-search. A real two-node Ray cluster on this machine (`ray.cluster_utils.Cluster`), synthetic data."""

from pathlib import Path

import pytest
import torch

ray = pytest.importorskip("ray")
from ray.util.state import list_actors  # noqa: E402

from monorec.config import ExperimentConfig, load_config  # noqa: E402
from monorec.data import load_split  # noqa: E402
from monorec.evaluation import evaluate_ranking  # noqa: E402
from monorec.recommenders import build_recommender, train_recommender  # noqa: E402

pytestmark = pytest.mark.cluster
ROOT = Path(__file__).resolve().parents[2]


def _config(path: str, *overrides: str) -> ExperimentConfig:
    return load_config(ExperimentConfig, ROOT / "configs" / path, ["train.device=cpu", *overrides])


def _train_worker_nodes(seen: set[str]) -> list[str]:
    """The nodes of the Ray Train workers not in `seen` (adds them to it)."""
    workers = [a for a in list_actors(filters=[("class_name", "=", "RayTrainWorker")]) if a["actor_id"] not in seen]
    seen.update(a["actor_id"] for a in workers)
    return [a["node_id"] for a in workers]


def test_one_worker_per_node_trains_the_model_of_two_workers_on_one_node(two_nodes, tmp_path):
    """Each worker streams its Ray Data shard from shared storage (file:// here, s3:// in the cloud):
    the two workers on two nodes train exactly the model of the same two workers on one node, and
    it ranks as well as the single-process model of the same config (NDCG@10 within 10%)."""
    from monorec.distributed.train import fit_on_ray

    storage = f"ray.storage_path={(tmp_path / 'shared').as_uri()}"
    spread = _config("quick.yaml", "train.epochs=4", "ray.num_workers=2", storage, "ray.placement=STRICT_SPREAD")
    _, split = load_split(spread.data)
    seen: set[str] = set()
    spread_state, spread_history = fit_on_ray("recommender", spread, tmp_path / "spread", "spread", split)
    assert len(set(_train_worker_nodes(seen))) == 2  # one worker on each node
    packed = _config("quick.yaml", "train.epochs=4", "ray.num_workers=2", storage, "ray.placement=STRICT_PACK")
    packed_state, packed_history = fit_on_ray("recommender", packed, tmp_path / "packed", "packed", split)
    assert len(set(_train_worker_nodes(seen))) == 1  # both on one node
    assert [h["loss"] for h in spread_history] == pytest.approx([h["loss"] for h in packed_history], rel=1e-6)
    assert all(torch.allclose(spread_state[k], packed_state[k], atol=1e-6) for k in packed_state)

    model = build_recommender(spread.model, split.n_users, split.n_items)
    model.load_state_dict(spread_state)
    single = build_recommender(spread.model, split.n_users, split.n_items, spread.train.seed)
    train_recommender(single, split, spread.train)
    two_node_ndcg = evaluate_ranking(model.rank_scores, split).full.ndcg
    single_ndcg = evaluate_ranking(single.rank_scores, split).full.ndcg
    assert two_node_ndcg == pytest.approx(single_ndcg, rel=0.1)


def test_a_local_run_state_folder_is_refused_and_a_shared_uri_accepted(two_nodes, tmp_path, monkeypatch):
    from monorec.distributed import storage_path
    from monorec.errors import ConfigError

    monkeypatch.delenv("MONOREC_STORAGE", raising=False)
    with pytest.raises(ConfigError, match="has 2 nodes but run state would go to the local folder"):
        storage_path(None, tmp_path / "ray")
    shared = (tmp_path / "shared").as_uri()
    assert storage_path(shared, tmp_path / "ray") == shared


def test_a_search_that_loses_a_node_finishes_with_every_trial_closed_once(two_nodes, tmp_path, monkeypatch):
    """Four trials on two nodes; the second node is removed once one of its trials has checkpointed.
    Its trials restart from their checkpoints on the head, the search finishes and registers a
    bundle that verifies, and every trial has one MLflow run, ended. The dataset's files are
    deleted as soon as the driver has loaded them: the trials get their data through Ray."""
    import threading
    import time

    from mlflow import MlflowClient

    import monorec.tune
    from monorec.config import SyntheticConfig
    from monorec.data.synthetic import write_synthetic
    from monorec.tracking import Tracker

    epochs = 8
    interactions, items = write_synthetic(SyntheticConfig(n_users=600, n_items=300, n_genres=6), tmp_path / "data")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    data = ["data.dataset=generic", f"data.generic.interactions_path={interactions}",
            f"data.generic.items_path={items}", "data.generic.name_col=name", "data.generic.concepts_col=concepts",
            "data.generic.year_col=year"]  # fmt: skip
    search = [f"sae_train.epochs={epochs}", f"tune.grace_period={epochs}", "tune.num_samples=4",
              "tune.max_concurrent_trials=4", f"tune.storage_path={(tmp_path / 'shared').as_uri()}", "tune.name=lost",
              f"tracking.uri={uri}"]  # fmt: skip
    config = _config("tune_quick.yaml", *data, *search)

    def load_then_delete(*args):
        loaded = load_split(*args)
        interactions.unlink(), items.unlink()
        return loaded

    monkeypatch.setattr(monorec.tune, "load_split", load_then_delete)
    outcome: dict = {}
    search = lambda: outcome.update(run=monorec.tune.run_tune(config, tmp_path / "out"))  # noqa: E731
    search_thread = threading.Thread(target=search, daemon=True)  # a hung search must not hang pytest
    search_thread.start()
    head, worker = two_nodes.head_node.node_id, two_nodes.list_all_nodes()[1].node_id
    client = MlflowClient(uri)
    lost_run, deadline = None, time.monotonic() + 120
    try:
        while lost_run is None and search_thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.2)
            lost_run = _checkpointed_trial(client, "monorec-generic-mf", worker, epochs)
        if lost_run is not None:
            two_nodes.remove_node(two_nodes.list_all_nodes()[1])
        search_thread.join(timeout=240)
    finally:
        if len(two_nodes.list_all_nodes()) < 2:  # the folder's other tests pass in any order
            two_nodes.add_node(num_cpus=2)
            two_nodes.wait_for_nodes()
    assert lost_run is not None, "no trial on the second node checkpointed before the search ended"
    assert "run" in outcome, "the search did not finish"

    experiment = client.get_experiment_by_name("monorec-generic-mf")
    runs = client.search_runs([experiment.experiment_id])
    trials = [r for r in runs if "trial" in r.data.tags]
    assert len(trials) == 4 and len({r.data.tags["trial"] for r in trials}) == 4  # one run per trial, none doubled
    assert {r.info.status for r in runs} == {"FINISHED"}  # every trial trained every epoch; none left RUNNING
    resumed = client.get_metric_history(lost_run, "tune/objective")
    steps = [m.step for m in resumed]
    assert max(steps) == epochs and steps.count(1) == 1, steps  # restarted from its checkpoint, not from scratch
    assert client.get_run(lost_run).data.tags["node"] == head  # ... on the node that remained

    run = outcome["run"]
    bundle, _, version = Tracker(uri).read_registered(f"{run.registered.name}@champion")  # digest verified
    assert version == run.registered.version and bundle.sae.n_latents == config.sae.n_latents
    assert not interactions.exists()  # the trials never needed the files


def _checkpointed_trial(client, experiment_name: str, node: str, epochs: int) -> str | None:
    """A trial run on `node` past its second report (so epoch 1's checkpoint is stored) and not done."""
    try:
        experiment = client.get_experiment_by_name(experiment_name)
        runs = client.search_runs([experiment.experiment_id]) if experiment else []
        for run in runs:
            if run.data.tags.get("node") == node and "tune/objective" in run.data.metrics:
                reports = len(client.get_metric_history(run.info.run_id, "tune/objective"))
                if 2 <= reports < epochs:
                    return run.info.run_id
    except Exception:  # (the store is busy with the trials' writes: look again)
        return None
    return None
