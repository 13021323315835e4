"""Ray Tune + MLflow: bad configs fail fast, trials and Ray Train workers warn about nothing on the read-only
arrays Ray hands them, a small search is fully tracked, and the job runs on a cluster."""

import json
import os
import pickle
import runpy
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch

ray = pytest.importorskip("ray")
from mlflow import MlflowClient  # noqa: E402

from monorec.results import ParetoFront, TuneRun, read_result  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("tune.serach.beta.low=0.1", "unknown config key 'tune.serach' (did you mean 'search'?)"),
        ("tune.search.beta.low=-1", "tune.search.beta: needs 0 < low <= high for a log range"),
        ("sae_train.beta=-0.5", "sae_train.beta must be >= 0"),
        ("tune.search={}", "tune.search is empty"),
    ],
)
def test_bad_tune_config_fails_before_any_trial(override, message, tmp_path, monkeypatch, capsys):
    """The job as a user runs it, in this process (a subprocess would spend seconds importing)."""
    monkeypatch.setenv("MONOREC_HOME", str(tmp_path))
    monkeypatch.chdir(ROOT)
    monkeypatch.setattr(sys, "argv", ["jobs/tune_sae.py", "--config", "configs/tune_quick.yaml", "--set", override])
    with pytest.raises(SystemExit) as ended:
        runpy.run_path("jobs/tune_sae.py", run_name="__main__")
    stderr = capsys.readouterr().err
    assert ended.value.code == 2 and message in stderr, stderr
    assert "Traceback" not in stderr and not (tmp_path / "ray_results").exists()


@pytest.mark.parametrize(("fidelity", "rbo"), [("extrapolated", 0.9), ("truncated", 0.7)])
@pytest.mark.parametrize(("monosemanticity", "mono"), [("ms", 0.4), ("purity", 0.5)])
def test_the_objective_takes_the_configured_terms_from_the_validation_stats(fidelity, rbo, monosemanticity, mono):
    """`tune.fidelity` picks the RBO of the training loop's validation check; both genre measures are reported."""
    import numpy as np

    from monorec.config import ExperimentConfig, TuneConfig
    from monorec.tune.search import GenreMeasures, trial_report

    stats = {"epoch": 3, "rbo_extrapolated": 0.9, "rbo_truncated": 0.7, "dead_ratio": 0.1, "loss": 2.0}
    config = ExperimentConfig(tune=TuneConfig(fidelity=fidelity, monosemanticity=monosemanticity, weight=0.25))
    report = trial_report(stats, GenreMeasures(0.4, np.array([0.2, 0.8])), config)
    assert (report.fidelity, report.monosemanticity, report.ms, report.purity) == (rbo, mono, 0.4, 0.5)
    assert report.objective == pytest.approx(0.25 * mono + 0.75 * rbo)
    infeasible = trial_report({**stats, "dead_ratio": 0.6}, GenreMeasures(0.4, np.array([0.2, 0.8])), config)
    assert infeasible.objective == -1.0


def from_object_store(payload: dict) -> dict:
    """`payload` as Ray's object store hands it to a trial or a worker: pickled (protocol 5) with its
    arrays out of band, and unpickled over read-only buffers, so every array is read-only."""
    buffers = []
    sent = pickle.dumps(payload, 5, buffer_callback=buffers.append)
    return pickle.loads(sent, buffers=[bytes(buffer.raw()) for buffer in buffers])


@contextmanager
def warnings_are_errors() -> Iterator[None]:
    """Every warning an error, torch's once-per-process ones included: an earlier test must not hide them."""
    warn_always = torch.is_warn_always_enabled()
    torch.set_warn_always(True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            yield
    finally:
        torch.set_warn_always(warn_always)


def test_only_read_only_arrays_are_copied_into_tensors():
    """`tensor_of` shares a writable array's memory, as torch.as_tensor does, and copies a read-only one."""
    from monorec.devices import tensor_of

    array = np.arange(4)
    tensor_of(array)[0] = 7
    assert array[0] == 7  # shared
    array.setflags(write=False)
    with warnings_are_errors():
        copied, widened = tensor_of(array), tensor_of(array, torch.float64)
    copied[1] = 9
    assert array.tolist() == [7, 1, 2, 3] and widened.tolist() == [7.0, 1.0, 2.0, 3.0]


def test_a_trial_warns_about_nothing_on_the_read_only_arrays_ray_hands_it(synthetic, tmp_path):
    """A trial's work (SAE training, the per-epoch genre measures) on its payload from the object store,
    in this process (a Ray start would cost 30 s)."""
    from monorec.config import ExperimentConfig, load_config
    from monorec.distributed.payload import make_payload
    from monorec.recommenders import build_recommender
    from monorec.tune.search import genre_matrix, train_trial, with_params

    data, _, split = synthetic
    config = load_config(ExperimentConfig, ROOT / "configs" / "tune_quick.yaml", ["sae_train.epochs=1"])
    recommender = build_recommender(config.model, split.n_users, split.n_items)  # untrained: only the arrays matter
    payload = from_object_store(make_payload(config, recommender, split=split, genres=genre_matrix(data)))
    assert not payload["split"].train_items.flags.writeable and not payload["genres"].flags.writeable
    reports = []
    with warnings_are_errors():
        trial = with_params(config, {"beta": 0.5, "lambda2": 0.01})
        train_trial(trial, payload, tmp_path, lambda report, _: reports.append(report))
    assert [report.epoch for report in reports] == [1] and 0 <= reports[0].purity <= 1


def test_a_ray_train_worker_warns_about_nothing_on_the_read_only_arrays_ray_hands_it(synthetic):
    """What a Ray Train worker gets from the object store (`distributed.train`): its sampler's keys and
    item counts, and for the SAE the validation users and their training items."""
    from monorec.config import ModelConfig, SAEConfig, SAETrainConfig
    from monorec.data.pairs import InMemoryPairs
    from monorec.data.sampling import NegativeSampler, positive_keys
    from monorec.recommenders import build_recommender
    from monorec.sae import SparseAutoencoder
    from monorec.sae.training import Validation, fit_sae, sae_folds

    _, _, split = synthetic
    config = SAETrainConfig(epochs=1, device="cpu")
    folds = sae_folds(split, config)
    keys, validation = positive_keys(split), Validation.of(split, folds.validation)
    sent = from_object_store({"keys": keys, "item_counts": split.item_counts(), "validation": validation})
    assert not sent["item_counts"].flags.writeable and not sent["validation"].users.flags.writeable
    recommender = build_recommender(ModelConfig(embedding_dim=8), split.n_users, split.n_items)
    cpu, rows = torch.device("cpu"), folds.train_rows(split)
    pairs = InMemoryPairs(split.train_users, split.train_items, config.shuffle_window, 0, cpu, rows=rows)
    users = torch.arange(50)
    with warnings_are_errors():
        negatives = NegativeSampler(sent["keys"], split.n_items, sent["item_counts"], "popularity").sample(users)
        result = fit_sae(SparseAutoencoder(8, SAEConfig(n_latents=8)), recommender, pairs, sent["validation"], config)
    assert not np.isin(users.numpy() * split.n_items + negatives.numpy(), keys).any()
    assert result.epochs == 1 and 0 < result.history[0]["rbo_extrapolated"] <= 1


def test_the_front_is_the_trials_no_other_beats_on_both_scores():
    import numpy as np

    from monorec.tune.search import non_dominated

    scores = np.array([[0.9, 0.1], [0.5, 0.5], [0.4, 0.5], [0.1, 0.9], [0.5, 0.5], [0.2, 0.2]])
    assert non_dominated(scores).tolist() == [True, True, False, True, True, False]  # ties stay on it


def test_every_open_trial_run_is_closed_once_with_how_its_trial_ended(tmp_path):
    """Trials never end their own runs: the driver does, once, after the search, including the run of a
    trial that died before its first report (no result names it) and not a run a resumed search ended."""
    from types import SimpleNamespace

    from monorec.tracking import Tracker
    from monorec.tune import close_trial_runs

    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = tracker.experiment("closing")
    parent = tracker.create_run(experiment, "search", {})
    runs = {name: tracker.nested_run(experiment, parent, name, {}) for name in ("done", "stopped", "errored", "silent")}
    earlier = tracker.nested_run(experiment, parent, "earlier", {})
    tracker.terminate(earlier, "KILLED")  # ended by the search this one resumes

    def result(name: str, epoch: int, error: Exception | None = None) -> SimpleNamespace:
        return SimpleNamespace(metrics={"mlflow_run_id": runs[name], "epoch": epoch}, error=error)

    before_report = SimpleNamespace(metrics={}, error=RuntimeError("died before its first report"))
    results = [result("done", 4), result("stopped", 2), result("errored", 3, RuntimeError("lost")), before_report]
    close_trial_runs(tracker, experiment, parent, results, epochs=4)
    client = MlflowClient(tracker.uri)
    status = {name: client.get_run(run_id).info.status for name, run_id in runs.items()}
    assert status == {"done": "FINISHED", "stopped": "KILLED", "errored": "FAILED", "silent": "FAILED"}
    assert client.get_run(earlier).info.status == "KILLED"
    ended = {run_id: client.get_run(run_id).info.end_time for run_id in [*runs.values(), earlier]}
    assert tracker.open_children(experiment, parent) == []
    close_trial_runs(tracker, experiment, parent, results, epochs=4)  # nothing left open: nothing ended again
    assert {run_id: client.get_run(run_id).info.end_time for run_id in ended} == ended

    # --resume retries the errored trial in its own run, reopened, and ends it again with how it ended
    assert tracker.nested_run(experiment, parent, "errored", {}) == runs["errored"]
    assert client.get_run(runs["errored"]).info.status == "RUNNING"
    close_trial_runs(tracker, experiment, parent, [result("errored", 4)], epochs=4)
    assert client.get_run(runs["errored"]).info.status == "FINISHED"
    assert client.get_run(runs["silent"]).info.status == "FAILED"  # not retried: untouched


def _readme_cluster_commands() -> list[str]:
    """The shell commands of the README's Ray section, continuation lines joined, comments dropped."""
    section = (ROOT / "README.md").read_text().split("## Ray and MLflow", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line.split("  #")[0].strip() for line in block.replace("\\\n", " ").splitlines() if line.strip()]


@pytest.mark.skipif(shutil.which("ray") is None, reason="needs the ray CLI")
def test_the_readme_cluster_commands_work_from_an_empty_home_folder(tmp_path):
    """The README's cluster path, literally, as on a fresh machine (HOME a new empty folder): the token
    is generated, a token-authenticated head started, the four-trial search submitted (every trial
    in MLflow, the best bundle registered) and the MLflow UI serves it; then `--resume` redoes
    nothing. (One cluster for both submissions: a search costs tens of seconds on two cores.)"""
    import socket
    import time
    import urllib.request

    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MONOREC_", "RAY_", "MLFLOW_"))}
    env["HOME"] = str(home)
    commands = _readme_cluster_commands()
    assert [c.split()[0] for c in commands] == ["ray", "RAY_AUTH_MODE=token", "RAY_AUTH_MODE=token", "mlflow"]
    *cluster, ui = commands
    outputs = []
    try:
        for command in cluster:
            done = subprocess.run(
                ["bash", "-c", command], cwd=ROOT, capture_output=True, text=True, timeout=600, env=env
            )
            assert done.returncode == 0, f"{command}: {done.stderr[-3000:]}"
            outputs.append(done.stdout + done.stderr)
        assert (home / ".ray" / "auth_token").is_file()  # the token the head and the submission use
        store = home / ".monorec" / "mlflow" / "mlflow.db"
        submitted = outputs[-1]
        assert "succeeded" in submitted and f"mlflow ui --backend-store-uri sqlite:///{store}" in submitted
        client = MlflowClient(f"sqlite:///{store}")
        experiment = client.get_experiment_by_name("monorec-synthetic-mf")
        runs = client.search_runs([experiment.experiment_id])
        output_dir = home / ".monorec" / "runs" / "tune_quick"
        _check_search(client, runs, output_dir)
        assert "?workflowType=machine_learning" in submitted  # the experiment's runs table, not its GenAI view

        resumed = subprocess.run(["bash", "-c", f"{cluster[-1]} --resume"], cwd=ROOT, capture_output=True, text=True,
                                 timeout=600, env=env)  # fmt: skip
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert len(client.search_runs([experiment.experiment_id])) == len(runs)  # finished trials not run again

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]  # the README's port 5000 may be taken on a test machine
        server = subprocess.Popen(["bash", "-c", f"exec {ui} --port {port}"], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            body, deadline = None, time.monotonic() + 60
            api = f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/get-by-name?experiment_name=monorec-synthetic-mf"
            while body is None and time.monotonic() < deadline:
                try:
                    body = json.loads(urllib.request.urlopen(api, timeout=5).read())
                except OSError:
                    time.sleep(0.5)
            assert body is not None and body["experiment"]["experiment_id"] == experiment.experiment_id
        finally:
            server.terminate()
            server.wait(timeout=30)
    finally:
        subprocess.run(["ray", "stop", "--force"], capture_output=True, timeout=120, env=env)
    assert (output_dir / "bundle" / "manifest.json").is_file()


def _check_search(client: MlflowClient, runs: list, output_dir: Path) -> None:
    """One parent run holding the best trial's measures, plots and registered bundle; a child per trial."""
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parents) == 1
    parent = parents[0]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == 4
    per_epoch = {"tune/objective", "tune/monosemanticity", "tune/fidelity", "tune/dead_ratio", "train/rbo_truncated"}
    for child in children:
        assert per_epoch <= set(child.data.metrics)
        assert child.info.status in {"FINISHED", "KILLED"} and "trial.beta" in child.data.params
        history = client.get_metric_history(child.info.run_id, "tune/objective")
        assert [m.step for m in history] == list(range(1, len(history) + 1))  # per-epoch metrics
    final = {
        "fidelity/rbo_truncated",
        "mono/ms",
        "mono/dead_ratio",
        "fidelity/original/ndcg",
        "mono/concepts/Horror/purity/10",
    }
    assert final <= set(parent.data.metrics) and "tune/objective" in parent.data.metrics
    assert {"git_commit", "dataset_checksum", "config_hash", "mlflow.source.name"} <= set(parent.data.tags)
    assert parent.inputs.dataset_inputs  # the runs table's Dataset column
    plots = {a.path for a in client.list_artifacts(parent.info.run_id, "plots")}
    figures = {"pareto_front", "pareto_paper", "purity_heatmap", "activation_histograms"}
    assert plots == {f"plots/{name}.png" for name in figures}
    assert "pareto.json" in {a.path for a in client.list_artifacts(parent.info.run_id)}
    version = client.get_model_version_by_alias("monorec-synthetic-mf", "champion")
    assert version.run_id == parent.info.run_id
    run = read_result(TuneRun, output_dir / "metrics.json")
    assert run.registered.version == str(version.version) and run.sae.mono.concepts["Horror"].purity[10] > 0
    _check_scores(run, output_dir)


def _check_scores(run: TuneRun, output_dir: Path) -> None:
    """The best trial is the trials' argmax and its fidelity is on the validation users; pareto.json is the
    validation front, each point's report-user measures recomputed from its checkpoint."""
    import pandas as pd
    import torch

    from monorec.bundle import read_bundle
    from monorec.data import load_split
    from monorec.evaluation.fidelity import list_fidelity
    from monorec.interpret import item_concepts
    from monorec.sae import build_sae, reconstructed_scorer
    from monorec.sae.training import CHECKPOINT, sae_folds
    from monorec.storage import load_checkpoint
    from monorec.tune.search import genre_measures, with_params

    trials = pd.read_csv(output_dir / "trials.csv", dtype={"trial": str})
    assert run.objective == pytest.approx(trials["objective"].max(), abs=1e-12)  # the argmax of the last reports
    bundle = read_bundle(output_dir / "bundle")
    config, recommender = bundle.config, bundle.recommender
    data, split = load_split(config.data)
    folds = sae_folds(split, config.sae_train)
    assert 0 < len(folds.validation) < len(folds.report)

    def agreement(sae, users):
        scorer = reconstructed_scorer(sae, recommender)
        return list_fidelity(recommender.rank_scores, scorer, split, torch.as_tensor(users))

    assert run.fidelity == pytest.approx(agreement(bundle.sae, folds.validation).rbo_extrapolated, abs=1e-9)
    assert run.fidelity != pytest.approx(run.sae.fidelity.rbo_extrapolated, abs=1e-6)  # the report users' differs

    front = read_result(ParetoFront, output_dir / "pareto.json")
    assert (front.fidelity, front.monosemanticity, front.report_users) == ("extrapolated", "ms", len(folds.report))
    feasible = trials[trials["objective"] > -1]
    scores = feasible[["fidelity", "monosemanticity"]].to_numpy()
    chosen = feasible["trial"].isin([point.trial for point in front.points]).to_numpy()
    for row, on in zip(scores, chosen):
        assert on != ((scores >= row).all(1) & (scores > row).any(1)).any()  # on the front iff nothing beats it
    concepts = item_concepts(data)
    genres = concepts.matrix[:, concepts.family("genre")]
    by_trial = trials.set_index("trial")
    for point in front.points:
        trial_config = with_params(config, point.params)
        sae = build_sae(trial_config, recommender.embedding_dim)
        sae.load_state_dict(load_checkpoint(Path(point.checkpoint) / CHECKPOINT)["sae"])
        sae.eval()
        validation, report = agreement(sae, folds.validation), agreement(sae, folds.report)
        assert point.validation.fidelity == pytest.approx(by_trial.loc[point.trial, "fidelity"], abs=1e-12)
        assert point.validation.fidelity == pytest.approx(validation.rbo_extrapolated, abs=1e-9)
        assert point.rbo_truncated == pytest.approx(report.rbo_truncated, abs=1e-9)
        assert point.kendall_tau_ranks == pytest.approx(report.kendall_tau_ranks, abs=1e-9)
        assert point.rbo_truncated != pytest.approx(validation.rbo_truncated, abs=1e-6)
        measures = genre_measures(sae, recommender, genres, trial_config)
        assert point.ms == pytest.approx(point.validation.ms, abs=1e-6) == measures.ms
        assert point.pure_genres == (measures.best_purity >= front.pure_at).sum() <= front.genres


def test_cluster_yaml_is_a_valid_launcher_config():
    import yaml
    from ray.autoscaler._private.util import prepare_config, validate_config

    config = prepare_config(yaml.safe_load((ROOT / "cluster.yaml").read_text()))
    validate_config(config)
    assert config["provider"]["type"] == "aws" and config["available_node_types"]["gpu_worker"]["max_workers"] > 0
    assert any("pip install -e" in command for command in config["setup_commands"])
    syncs = [c for c in config["setup_commands"] + config["head_setup_commands"] if "s3 sync" in c]
    assert syncs and all(c in config["head_setup_commands"] for c in syncs)  # data on the head only
    starts = [" ".join(config["head_start_ray_commands"]), " ".join(config["worker_start_ray_commands"])]
    for start in starts:  # token auth and shared storage on every node
        assert "RAY_AUTH_MODE=token" in start and "RAY_AUTH_TOKEN_PATH=" in start and "MONOREC_STORAGE=s3://" in start
    assert "--dashboard-host=127.0.0.1" in starts[0] and "0.0.0.0 --object" not in starts[0]
    assert "--app-name basic-auth" in starts[0] and "mlflow-db" in starts[0]  # MLflow: authenticated, persistent


def test_a_trial_whose_worker_is_killed_resumes_from_its_checkpoint(tmp_path):
    """A trial's process dies (as on a pre-empted node): Tune restarts it from its last checkpoint."""
    import signal
    import time

    args = ["--set", "tune.num_samples=2", "sae_train.epochs=8", "tune.grace_period=8", "tune.max_failures=2",
            "tune.name=killed", "--output-dir", str(tmp_path / "out")]  # fmt: skip
    env = {**os.environ, "MONOREC_HOME": str(tmp_path)}
    job = subprocess.Popen(
        [sys.executable, "jobs/tune_sae.py", "--config", "configs/tune_quick.yaml", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
    )  # fmt: skip
    killed, deadline = None, time.monotonic() + 300
    while killed is None and time.monotonic() < deadline and job.poll() is None:
        checkpointed = {path.parent for path in (tmp_path / "ray_results" / "killed").glob("*/checkpoint_00000[1-9]")}
        workers = subprocess.run(["pgrep", "-f", "ray::ImplicitFunc"], capture_output=True, text=True).stdout.split()
        if len(checkpointed) == 2 and workers:  # whichever trial dies has a checkpoint to resume from
            killed = int(workers[0])
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.2)
    output, _ = job.communicate(timeout=600)
    assert killed is not None, "no trial process to kill: " + output[-2000:]
    assert job.returncode == 0, output[-3000:]
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow' / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("monorec-synthetic-mf")
    trials = [r for r in client.search_runs([experiment.experiment_id]) if "trial" in r.data.tags]
    assert len(trials) == 2
    for trial in trials:
        steps = [m.step for m in client.get_metric_history(trial.info.run_id, "tune/objective")]
        assert max(steps) == 8 and steps.count(1) == 1, steps  # every epoch trained; none restarted from scratch
