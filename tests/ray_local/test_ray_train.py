"""Ray Train: the core loops on data-parallel workers, and recovery from a killed worker.

Kept few and small: each TorchTrainer start costs tens of seconds on a 2-core machine.
"""

import dataclasses
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import torch

ray = pytest.importorskip("ray")

from monorec.config import ExperimentConfig, RayConfig, load_config  # noqa: E402
from monorec.data import load_split  # noqa: E402
from monorec.evaluation import evaluate_ranking, popularity_scores  # noqa: E402
from monorec.recommenders import build_recommender, train_recommender  # noqa: E402
from monorec.sae import build_sae, train_sae  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def _config(*overrides: str) -> ExperimentConfig:
    return load_config(ExperimentConfig, ROOT / "configs" / "quick.yaml", ["train.device=cpu", *overrides])


def test_single_worker_equals_the_core_loop(local_ray, tmp_path):
    """Recommender then SAE on one Ray Train worker, streaming their pairs through Ray Data in several
    shuffle windows, give the plain core results from memory (same seeds). The recommender is a
    planted kind whose loss is not BCE (`planted_kinds.SQUARED`), trained by the pipeline: the
    worker runs the kind's own training task, as this process does."""
    import planted_kinds
    from ray import cloudpickle

    from monorec.distributed.train import fit_on_ray
    from monorec.pipeline import run_recommender
    from monorec.recommenders import fit_recommender_kind, load_recommender

    windows = ["train.shuffle_window=5000", "sae_train.shuffle_window=4000"]
    config = _config("train.epochs=3", "ray.num_workers=1", "sae_train.epochs=2", "sae_train.device=cpu", *windows)
    data, split = load_split(config.data)
    assert len(split.train_users) > 2 * config.train.shuffle_window  # several windows per epoch
    cloudpickle.register_pickle_by_value(planted_kinds)  # its code travels to the worker, as a cluster job's does
    try:
        with planted_kinds.registered(planted_kinds.SQUARED) as kind:
            planted = dataclasses.replace(config, model=dataclasses.replace(config.model, kind=kind.traits.name))
            run_recommender(planted, tmp_path / "planted", (data, split))
            here, result = fit_recommender_kind(dataclasses.replace(planted, ray=RayConfig()), data, split)
            on_ray = load_recommender(tmp_path / "planted")[0].state_dict()
    finally:
        cloudpickle.unregister_pickle_by_value(planted_kinds)
    assert result.final_loss < 0.25  # its own loss: a squared error on probabilities (BCE starts near 0.69)
    assert all(torch.allclose(on_ray[name], value, atol=1e-5) for name, value in here.state_dict().items())

    core = build_recommender(config.model, split.n_users, split.n_items, config.train.seed)
    train_recommender(core, split, config.train)
    core.requires_grad_(False)
    sae_state, sae_history = fit_on_ray("sae", config, tmp_path, "single-sae", split, core)
    assert not list(tmp_path.glob("ray/*-pairs"))  # the parquet copy of the pairs is removed after training
    sae = build_sae(config, core.embedding_dim)
    expected = train_sae(sae, core, split, config.sae_train)
    assert [h["loss"] for h in sae_history] == pytest.approx([h["loss"] for h in expected.history], rel=1e-4)
    assert sae_history[-1]["rbo_truncated"] == pytest.approx(expected.history[-1]["rbo_truncated"], abs=1e-3)
    assert all(torch.allclose(sae_state[name], value, atol=1e-4) for name, value in sae.state_dict().items())


def test_sasrec_trains_on_a_ray_train_worker_from_the_split_in_the_object_store(local_ray, tmp_path):
    """A sequence model trains on whole sequences, not pair shards: the worker gets the split and runs the
    kind's own trainer, as this process does (two processes sharing the work: `test_sequence_parallel`)."""
    from sequence_fixtures import SASREC, planted_sequences

    from monorec.data.sequences import leave_last_out
    from monorec.distributed.train import fit_on_ray
    from monorec.recommenders import fit_recommender_kind

    sequences = planted_sequences()
    split = leave_last_out(sequences.data)
    config = dataclasses.replace(SASREC, train=dataclasses.replace(SASREC.train, epochs=6))
    state, history = fit_on_ray(
        "recommender", dataclasses.replace(config, ray=RayConfig(num_workers=1)), tmp_path, "seq", split
    )
    here, result = fit_recommender_kind(config, sequences.data, split)
    expected = [epoch["validation_ndcg@10"] for epoch in result.history]
    assert [epoch["validation_ndcg@10"] for epoch in history] == pytest.approx(expected, abs=0.02) and len(
        expected
    ) == 6
    assert max(expected) >= 0.5  # it learned the planted chains
    # The worker's threads round differently from this process's: after six epochs the weights agree to 1e-2.
    assert all(torch.allclose(state[name], value, atol=1e-2) for name, value in here.state_dict().items())


def test_two_workers_recover_from_a_killed_worker(local_ray, tmp_path):
    from ray.util.state import list_actors

    from monorec.distributed.train import fit_on_ray

    config = _config("train.epochs=8", "ray.num_workers=2", "ray.max_failures=2")
    outcome = {}
    _, split = load_split(config.data)
    thread = threading.Thread(
        target=lambda: outcome.update(result=fit_on_ray("recommender", config, tmp_path, "killed", split))
    )
    thread.start()
    deadline = time.monotonic() + 240
    while not list((tmp_path / "ray").glob("*/checkpoint_*")) and time.monotonic() < deadline:
        time.sleep(0.2)
    workers = list_actors(filters=[("class_name", "=", "RayTrainWorker"), ("state", "=", "ALIVE")])
    assert len(workers) == 2, "the run finished before a worker could be killed"
    os.kill(workers[-1]["pid"], signal.SIGKILL)
    thread.join(timeout=300)

    state, history = outcome["result"]
    assert [h["epoch"] for h in history] == list(range(1, 9))  # resumed, not restarted, not truncated
    dead = list_actors(filters=[("class_name", "=", "RayTrainWorker"), ("state", "=", "DEAD")])
    assert workers[-1]["actor_id"] in {a["actor_id"] for a in dead}
    model = build_recommender(config.model, split.n_users, split.n_items)
    model.load_state_dict(state)
    quality = evaluate_ranking(model.rank_scores, split).full.ndcg
    assert quality > 1.1 * evaluate_ranking(popularity_scores(split), split).full.ndcg


def test_a_local_storage_path_is_refused_on_a_multi_node_cluster(monkeypatch, tmp_path):
    import monorec.distributed as distributed
    from monorec.errors import ConfigError

    monkeypatch.delenv("MONOREC_STORAGE", raising=False)
    monkeypatch.setattr(distributed.ray, "is_initialized", lambda: True)
    monkeypatch.setattr(distributed.ray, "nodes", lambda: [{"Alive": True}, {"Alive": True}, {"Alive": False}])
    with pytest.raises(ConfigError, match="has 2 nodes but run state would go to the local folder"):
        distributed.storage_path(None, tmp_path / "ray")
    assert distributed.storage_path("s3://bucket/runs", tmp_path) == "s3://bucket/runs"
    monkeypatch.setenv("MONOREC_STORAGE", "gs://bucket/monorec")
    assert distributed.storage_path(None, tmp_path) == "gs://bucket/monorec"
    monkeypatch.setattr(distributed.ray, "nodes", lambda: [{"Alive": True}])
    monkeypatch.delenv("MONOREC_STORAGE")
    assert distributed.storage_path(None, tmp_path / "ray") == str((tmp_path / "ray").resolve())
