"""The reproduction job: its plan, its resumable run on synthetic data, and the committed results page."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from monorec.config import (
    AblationConfig,
    ExperimentConfig,
    ReproduceConfig,
    load_config,
    recommender_hash,
    run_hash,
)
from monorec.interventions.calibration import dominant_concepts
from monorec.reproduction import cell_name, cell_plan, render_page
from monorec.reproduction.ablation import cell_arms, notebook_config
from monorec.reproduction.format import model_of
from monorec.reproduction.records import RECOMMENDER, load_ablation, load_runs
from monorec.reproduction.runner import select_cells
from monorec.reproduction.shortfalls import shortfalls

ROOT = Path(__file__).resolve().parents[1]
QUICK_RUNS = 1 + 2 * 3 + 2  # the recommender, beta 0 / 0.1 / 1 x seeds 0 and 1, Matryoshka, TopK


def test_cell_plan_isolates_beta_and_seed():
    base = load_config(ExperimentConfig, ROOT / "configs" / "ml1m_mf.yaml")
    plan = cell_plan(base, ReproduceConfig())
    assert [v.name for v in plan][:3] == ["beta0_seed0", "beta0_seed1", "beta0_seed2"] and len(plan) == 11
    grid = [v for v in plan if v.architecture == "relu"]
    assert {(v.beta, v.seed) for v in grid} == {(b, s) for b in (0.0, 0.1, 1.0) for s in (0, 1, 2)}
    assert all(v.config.sae_train.beta == v.beta and v.config.sae_train.seed == v.seed for v in plan)
    assert all(v.config.train == base.train and v.config.data == base.data for v in plan)  # one shared recommender
    matryoshka, topk = plan[-2], plan[-1]
    assert matryoshka.config.sae.matryoshka == [6, 11, 22] and matryoshka.beta == 0.1
    assert (topk.config.sae.activation, topk.config.sae.k) == ("topk", 4)


def test_dominant_concept_is_the_most_frequent_over_training_items(synthetic):
    data, truth, split = synthetic
    matrix, names = data.concept_matrix()
    users = np.arange(30)
    dominant = dominant_concepts(*split.train_csr(), users, matrix)
    indptr, items = split.train_csr()
    for user in users:
        counts = matrix[items[indptr[user] : indptr[user + 1]]].sum(0)
        assert counts[dominant[user]] == counts.max()
    planted = [names.index(truth.genre_names[g]) for g in range(len(truth.genre_names))]
    liked = [{planted[g] for g in np.flatnonzero(truth.user_genres[u])} for u in users]
    assert np.mean([dominant[u] in liked[u] for u in users]) > 0.9  # users mostly consume their planted genres


def _reproduce(results: Path, work: Path, *extra: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        "jobs/reproduce.py",
        "--config",
        "configs/reproduce_quick.yaml",
        "--results-dir",
        str(results),
        "--work-dir",
        str(work),
        *extra,
    ]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, env=os.environ.copy())


def test_reduced_reproduction_runs_resumes_and_tracks(tmp_path):
    results, work = tmp_path / "results", tmp_path / "work"
    done = _reproduce(results, work)
    assert done.returncode == 0, done.stderr
    files = sorted((results / "metrics" / "synthetic_mf").glob("*.json"))
    assert len(files) == QUICK_RUNS and (results / "purity.png").stat().st_size > 0
    cell = load_runs(results)["synthetic_mf"]
    for name in ("beta0.1_seed0", "beta0.1_seed1"):  # the SAE finds every planted genre
        concepts = cell.saes[name].run.mono.concepts
        assert len(concepts) == 6 and all(best.purity[10] >= 0.9 for best in concepts.values()), concepts
    prefixes = cell.saes["matryoshka_seed0"].run.mono.prefixes
    assert cell.saes["topk_seed0"].architecture == "topk" and [(g.first, g.last) for g in prefixes] == [
        (0, 5),
        (6, 11),
        (12, 23),
    ]
    studies = cell.saes["beta0.1_seed0"].run.case_studies  # the paper-default SAE of each seed is steered
    assert studies["filtering"].calibration.report.effect < studies["filtering"].before.effect
    assert studies["promotion"].users > 0 and studies["promotion"].subject.endswith("to Horror, Comedy")
    # Three towers each for the neuron, the direction and PopSteer's neurons, the penalty and xQuAD.
    assert len(studies["popularity"].curves) == 11
    assert not cell.saes["beta0_seed0"].run.case_studies  # the ablation runs are not
    assert (results / "dose_response.png").stat().st_size > 0 and (results / "steering_frontier.png").is_file()
    readme = (results / "README.md").read_text()
    assert readme == render_page(results) and "| synthetic_mf | 0.1 |" in readme

    from mlflow import MlflowClient

    from monorec.tracking import tracking_uri

    client = MlflowClient(tracking_uri())
    experiment = client.get_experiment_by_name("monorec-synthetic-mf")
    parents = client.search_runs([experiment.experiment_id], "attributes.run_name = 'reproduce-synthetic_mf'")
    children = client.search_runs([experiment.experiment_id], f"tags.mlflow.parentRunId = '{parents[0].info.run_id}'")
    assert len(parents) == 1 and len(children) == QUICK_RUNS - 1
    steered = next(c for c in children if c.info.run_name == "beta0.1_seed0")
    curve = client.get_metric_history(
        steered.info.run_id, "case_studies/filtering/sae/suppress its neuron on the user tower/effect"
    )
    assert [m.step for m in curve] == list(range(len(curve))) and len(curve) > 5  # the dose-response curve
    assert {a.path for a in client.list_artifacts(parents[0].info.run_id)} >= {
        "README.md",
        "purity.png",
        "beta_ablation.png",
    }

    # An interrupted run resumes: only the missing run is computed; nothing else is touched.
    stamps = {path.name: path.stat().st_mtime_ns for path in files}
    (results / "metrics" / "synthetic_mf" / "beta1_seed1.json").unlink()
    again = _reproduce(results, work)
    assert again.returncode == 0, again.stderr
    assert again.stderr.count("done earlier, skipped") == QUICK_RUNS - 2 and "SAE 6/8: beta1_seed1" in again.stderr
    after = {path.name: path.stat().st_mtime_ns for path in (results / "metrics" / "synthetic_mf").glob("*.json")}
    assert {name for name in stamps if after[name] != stamps[name]} == {"beta1_seed1.json"}

    forced = _reproduce(results, work, "--force", "--no-tracking")
    assert forced.returncode == 0 and "skipped" not in forced.stderr
    assert all(
        path.stat().st_mtime_ns != stamps[path.name] for path in (results / "metrics" / "synthetic_mf").glob("*.json")
    )


def test_unknown_cell_is_a_one_line_error(tmp_path):
    done = _reproduce(tmp_path / "r", tmp_path / "w", "--datasets", "netflix")
    assert done.returncode == 2 and "no cell matches" in done.stderr and "synthetic_mf" in done.stderr
    assert "Traceback" not in done.stderr


def test_committed_records_are_still_the_runs_their_configs_describe():
    """A new setting at its default must not change a config's hash: the reproduction would redo every run."""
    settings = load_config(ReproduceConfig, ROOT / "configs" / "reproduce.yaml")
    runs = load_runs(ROOT / "results")
    overrides = [*settings.overrides, "train.device=auto", "sae_train.device=auto"]
    for path in settings.cells:
        base = load_config(ExperimentConfig, ROOT / "configs" / path, overrides)
        cell = runs[cell_name(base)]
        assert cell.recommender.run.config_hash == recommender_hash(base), path
        for variant in cell_plan(base, settings):
            assert cell.saes[variant.name].run.config_hash == run_hash(variant.config), (path, variant.name)


def test_committed_ablation_records_are_still_the_runs_their_arms_describe():
    """Every record in results/ablation/ carries the hash of the config its arm describes today."""
    settings = load_config(AblationConfig, ROOT / "configs" / "ablation.yaml")
    cells = load_ablation(ROOT / "results")
    checked = 0
    for base in select_cells(settings, ROOT / "configs", None, None, "auto"):
        cell = cells[cell_name(base)]
        arms = cell_arms(base, settings, notebook_config(base, settings, ROOT / "configs", "auto"))
        assert cell.recommenders[RECOMMENDER].run.config_hash == recommender_hash(base)
        for name, recommender in cell.recommenders.items():
            arm = arms[name.removeprefix(f"{RECOMMENDER}_")] if name != RECOMMENDER else arms["shipped"]
            assert recommender.run.config_hash == recommender_hash(arm.config), name
        for name, records in cell.arms.items():
            for record in records:
                assert record.run.config_hash == run_hash(arms[name].on(record.seed).config), (name, record.seed)
                checked += 1
    assert checked == sum(len(records) for cell in cells.values() for records in cell.arms.values()) > 40


def test_committed_results_page_matches_the_latest_metrics():
    """results/README.md must be exactly what the committed metrics files render to."""
    results = ROOT / "results"
    expected = {"ml1m_mf", "ml1m_ncf", "lastfm_mf", "lastfm_ncf", "ml1m_als20", "ml1m_als64", "ml1m_lightgcn20"}
    assert set(load_runs(results)) == expected
    assert (results / "README.md").read_text() == render_page(results), "rerun: python jobs/reproduce.py --page-only"


def test_committed_sequential_page_matches_its_metrics_and_names_the_subset():
    """results/sequential/README.md (the SASRec cells, `configs/reproduce_sequential.yaml`) likewise."""
    results = ROOT / "results" / "sequential"
    page = (results / "README.md").read_text()
    assert page == render_page(results), "rerun: python jobs/reproduce.py --results-dir results/sequential --page-only"
    assert set(load_runs(results)) <= {"ml100k_sequences_sasrec64", "ml1m_sequences_sasrec64"}
    assert (
        "## 9. Sequential recommenders (SASRec)" in page
        and "| MovieLens-100K (every rating, in time order) | 943 | 0.76 | 0.44 | 52 |" in page
    )
    assert "| MovieLens-1M |" not in page  # the subset is never called by the whole dataset's name


def test_page_changes_with_the_metrics_and_names_shortfalls(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(ROOT / "results" / "metrics", results / "metrics")
    before = render_page(results)
    for path in (results / "metrics" / "ml1m_mf").glob("beta0.1_seed*.json"):
        record = json.loads(path.read_text())
        record["run"]["fidelity"]["rbo_truncated"] = 0.4321
        record["run"]["mono"]["concepts"]["Horror"]["purity"]["10"] = 0.5
        path.write_text(json.dumps(record))
    after = render_page(results)
    assert after != before and "| ml1m_mf | 0.1 | 604 | 0.43 ± 0.00 | 0.78 |" in after
    found = shortfalls(load_runs(results))
    assert "ml1m_mf: Horror purity@10 0.50 against the paper's 1.00 (339 of 3706 items carry it)" in found
    assert "ml1m_mf: truncated RBO@29 at beta 0.1 0.43 against the paper's 0.78" in found
    assert all(line in after for line in found)


def test_page_follows_the_configured_cut_offs(tmp_path):
    """promote_k and label_k are read from the results, never rebuilt: changing them changes the page."""
    config = tmp_path / "reproduce.yaml"
    config.write_text(
        f"base: {ROOT / 'configs' / 'reproduce_quick.yaml'}\n"
        f"cells: [{ROOT / 'configs' / 'quick.yaml'}]\n"
        "seeds: [0]\n"
        "betas: [0.1]\n"
        "overrides: [sae_train.epochs=3, case_studies.promote_item=null, case_studies.promote_concept=Western,\n"
        "            'case_studies.audiences=[Horror, Comedy]', case_studies.promote_k=20, interpret.label_k=10]\n"
    )
    command = [sys.executable, "jobs/reproduce.py", "--config", str(config), "--no-tracking"]
    done = subprocess.run(
        [*command, "--results-dir", str(tmp_path / "r"), "--work-dir", str(tmp_path / "w")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    record = load_runs(tmp_path / "r")["synthetic_mf"].saes["beta0.1_seed0"]
    assert record.run.case_studies["promotion"].k == 20
    assert set(record.run.mono.popularity_neuron.percentile) == {10, 50}
    page = (tmp_path / "r" / "README.md").read_text()
    assert "audience with the item in top-20" in page and "top-30" not in page
    assert "| percentile@10 (%) | percentile@50 (%) |" in page and "share@10" in page


def test_cells_of_other_model_kinds_carry_their_width():
    base = load_config(ExperimentConfig, ROOT / "configs" / "ml1m_als64.yaml")
    assert cell_name(base) == "ml1m_als64" and model_of(cell_name(base)) == "ALS (d 64)"
    assert cell_name(load_config(ExperimentConfig, ROOT / "configs" / "ml1m_mf.yaml")) == "ml1m_mf"
    assert model_of("ml1m_lightgcn20") == "LightGCN (d 20)" and model_of("lastfm_ncf") == "NCF"


def test_page_says_which_model_the_sae_explains_worse_and_by_how_much(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(ROOT / "results" / "metrics", results / "metrics")
    (results / "recommender_kinds.json").write_text(
        json.dumps(
            {
                "machine": {"device": "test CPU", "cpu_threads": 2},
                "dataset": "ml1m",
                "kinds": {
                    "ALS (20 factors)": {"config": "configs/ml1m_als.yaml", "train_seconds": 3.9, "ndcg@10": 0.176}
                },
            }
        )
    )
    for path in (results / "metrics" / "ml1m_als20").glob("beta0.1_seed*.json"):
        record = json.loads(path.read_text())
        for concept in record["run"]["mono"]["concepts"].values():
            concept["purity"]["10"] = 0.5
        path.write_text(json.dumps(record))
    mf = np.mean(
        [np.mean([b.purity[10] for b in r.run.mono.concepts.values()]) for r in load_runs(results)["ml1m_mf"].base()]
    )
    page = render_page(results)
    section = page[page.index("## 7. Every model kind") : page.index("## Where we fall short")]
    assert (
        "| ALS (20 factors) | configs/ml1m_als.yaml | 3.9 s | 0.176 |" in section
        and "on test CPU (2 threads)" in section
    )
    assert "| LightGCN (d 20) |" in section and "| ALS (d 64) |" in section
    assert "- ALS (d 20): explained worse than MF on concepts found and mean purity@10 (concepts found 0.00" in section
    assert f"mean purity@10 0.50 against MF's {mf:.2f}, lower by {mf - 0.5:.2f}" in section
