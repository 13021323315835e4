"""The command-line job end to end, as a user runs it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from monorec.results import RecommenderRun, SAERun, read_result

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "jobs/train_recommender.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=os.environ.copy(),
    )


def test_train_recommender_job_writes_metrics_and_model(tmp_path):
    done = _run("--config", "configs/quick.yaml", "--set", "train.epochs=3", "--output-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr
    run = read_result(RecommenderRun, tmp_path / "metrics.json")
    assert run.training.epochs == 3 and run.dataset.n_users == 600 and run.training.device == "cpu"
    assert run.dataset.n_evaluated_users == run.dataset.n_test_users > 0  # no eval.max_users: every test user
    assert 0 < run.model.full.ndcg <= 1 and run.training.samples_per_second > 0
    assert run.model.full.ndcg > run.popularity.full.ndcg and run.model.full.k == 10
    assert (tmp_path / "recommender.safetensors").is_file() and (tmp_path / "checkpoint.pt").is_file()
    assert "epoch 3/3" in done.stderr  # per-epoch progress


def test_bad_config_is_a_one_line_error(tmp_path):
    done = _run("--config", "configs/quick.yaml", "--set", "train.epoch=3", "--output-dir", str(tmp_path))
    assert done.returncode == 2
    assert "error: unknown config key 'train.epoch' (did you mean 'epochs'?)" in done.stderr
    assert "Traceback" not in done.stderr
    missing = _run("--config", "configs/nope.yaml")
    assert missing.returncode == 2 and "config file not found: configs/nope.yaml" in missing.stderr


def test_every_shipped_config_is_valid():
    from monorec.config import AblationConfig, ExperimentConfig, ReproduceConfig, load_config

    expected = {
        "quick": ("synthetic", "mf"),
        "ml1m_mf": ("ml1m", "mf"),
        "ml1m_ncf": ("ml1m", "ncf"),
        "lastfm_mf": ("lastfm", "mf"),
        "lastfm_ncf": ("lastfm", "ncf"),
        "tune_sae": ("ml1m", "mf"),
        "tune_paper": ("ml1m", "mf"),
        "tune_quick": ("synthetic", "mf"),
        "generic_example": ("generic", "mf"),
        "scale": ("generic", "mf"),
        "ml1m_lightgcn": ("ml1m", "lightgcn"),
        "ml1m_als": ("ml1m", "als"),
        "ml1m_als64": ("ml1m", "als"),
        "ml1m_bpr": ("ml1m", "bpr"),
        "paper_notebook_mf": ("ml1m", "mf"),
        "paper_notebook_ncf": ("ml1m", "ncf"),
        "ml100k_sasrec": ("ml100k", "sasrec"),
        "ml1m_sasrec": ("ml1m", "sasrec"),
    }
    # ReproduceConfig files -> their cell count
    reproductions = {"reproduce": 7, "reproduce_quick": 1, "reproduce_sequential": 2}
    shipped = {path.stem for path in (ROOT / "configs").glob("*.yaml")} - {"serve"}  # serve.yaml is Ray Serve's
    assert shipped == set(expected) | set(reproductions) | {"ablation"}
    ablation = load_config(AblationConfig, ROOT / "configs" / "ablation.yaml")
    assert all((ROOT / "configs" / path).is_file() for path in [*ablation.cells, *ablation.notebook.values()])
    for name, (dataset, kind) in expected.items():
        config = load_config(ExperimentConfig, ROOT / "configs" / f"{name}.yaml")
        assert (config.data.dataset, config.model.kind) == (dataset, kind)
    for name, n_cells in reproductions.items():
        settings = load_config(ReproduceConfig, ROOT / "configs" / f"{name}.yaml")
        assert len(settings.cells) == n_cells and all((ROOT / "configs" / cell).is_file() for cell in settings.cells)
        overrides = settings.overrides
        assert all(load_config(ExperimentConfig, ROOT / "configs" / cell, overrides) for cell in settings.cells)
    assert load_config(ExperimentConfig, ROOT / "configs" / "ml1m_mf.yaml").sae.n_latents == 22
    assert load_config(ExperimentConfig, ROOT / "configs" / "lastfm_mf.yaml").sae.n_latents == 70


def test_train_sae_job_writes_metrics_neurons_and_report(tmp_path):
    args = ["--config", "configs/quick.yaml", "--set", "sae_train.epochs=4", "--output-dir", str(tmp_path)]
    done = subprocess.run(
        [sys.executable, "jobs/train_sae.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr
    run = read_result(SAERun, tmp_path / "metrics.json")
    assert 0 < run.fidelity.rbo_truncated < run.fidelity.rbo_extrapolated <= 1 and 0 <= run.mono.dead_ratio <= 1
    assert run.fidelity.users == 60 and run.fidelity.paper_depth == 29
    assert set(run.mono.concepts["Horror"].purity) == {10, 20, 50}
    assert set(run.mono.popularity_neuron.percentile) == {20, 50}
    assert {"filtering", "popularity"} <= set(run.case_studies)
    neurons = (tmp_path / "neurons.csv").read_text().splitlines()
    assert neurons[0].startswith("neuron,label,family,confidence,precision,recall,purity@10,purity@20,purity@50")
    assert len(neurons) == 1 + 24
    report = (tmp_path / "report.md").read_text()
    assert "| Horror |" in report and "sae epoch 4/4" in done.stderr and "recommender epoch 15/15" in done.stderr
    assert (tmp_path / "sae.safetensors").is_file() and (tmp_path / "recommender" / "recommender.safetensors").is_file()
    # The run is recorded in MLflow (the default local store under MONOREC_HOME).
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{os.environ['MONOREC_HOME']}/mlflow/mlflow.db")
    experiment = client.get_experiment_by_name("monorec-synthetic-mf")
    tracked = client.search_runs([experiment.experiment_id], filter_string="tags.job = 'train_sae'")
    assert tracked and tracked[0].data.metrics["fidelity/rbo_truncated"] == pytest.approx(run.fidelity.rbo_truncated)
    assert tracked[0].data.metrics["mono/concepts/Horror/purity/10"] == run.mono.concepts["Horror"].purity[10]
    assert {a.path for a in client.list_artifacts(tracked[0].info.run_id)} >= {
        "metrics.json",
        "neurons.csv",
        "report.md",
        "explorer.html",
    }
    # What the MLflow UI needs to open on the runs table with Dataset and Source filled in.
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    inputs = client.get_run(tracked[0].info.run_id).inputs.dataset_inputs
    assert [i.dataset.name for i in inputs] == ["synthetic"] and len(inputs[0].dataset.digest) == 16
    assert tracked[0].data.tags["mlflow.source.name"] == "jobs/train_sae.py"
    assert "Horror" in (tmp_path / "explorer.html").read_text()
    # A second run with another SAE setting reuses the recommender trained the first time.
    again = subprocess.run(
        [sys.executable, "jobs/train_sae.py", *args, "--set", "sae_train.beta=0"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert again.returncode == 0, again.stderr
    assert "using the recommender trained earlier" in again.stderr and "epoch 1/15" not in again.stderr
