"""The notebook-difference ablation and the random-SAE check, end to end on planted synthetic data."""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from monorec.config import AblationConfig, ExperimentConfig, apply_overrides, load_config
from monorec.data import load_split
from monorec.evaluation.fidelity import list_fidelity
from monorec.recommenders.persistence import load_recommender
from monorec.reproduction.ablation import ablate
from monorec.reproduction.format import stat
from monorec.reproduction.front import PARETO, TUNE_PAPER
from monorec.reproduction.gap import gap_section, stop_rule_verdict
from monorec.reproduction.kendall import kendall_examples
from monorec.reproduction.records import NOTEBOOK, SHIPPED, AblationCell, genres_found, load_ablation
from monorec.results import FrontPoint, ParetoFront, TrialReport, write_result
from monorec.sae import build_sae
from monorec.sae.persistence import load_sae
from monorec.sae.training import reconstructed_scorer, sae_folds
from monorec.storage import read_json
from monorec.typed import from_dict, to_dict

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


def _ablation(tmp: Path) -> tuple[Path, Path]:
    """The ablation on the quick synthetic config (2 seeds, 3 epochs), its notebook config on the same base."""
    notebook = tmp / "paper_notebook_mf.yaml"
    notebook.write_text(
        (CONFIGS / "paper_notebook_mf.yaml").read_text().replace("ml1m_mf.yaml", str(CONFIGS / "quick.yaml"))
    )
    settings = load_config(
        AblationConfig,
        CONFIGS / "ablation.yaml",
        [
            f"cells=[{CONFIGS / 'quick.yaml'}]",
            "seeds=[0, 1]",
            f"notebook={{mf: {notebook}}}",
            # Folds of different sizes: a fidelity measured on the wrong fold cannot pass for the right one.
            "overrides=[sae_train.epochs=3, sae_train.validation_share=0.25, case_studies.filter_users=15]",
        ],
    )
    ablate(settings, CONFIGS, tmp / "work", tmp / "results", device="cpu")
    return tmp / "work", tmp / "results"


@pytest.fixture(scope="module")
def ablation(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _ablation(tmp_path_factory.mktemp("ablation"))


def test_notebook_configs_turn_on_exactly_the_ablations_differences():
    """One place per decision: configs/paper_notebook_<kind>.yaml is its base plus every difference of the kind."""
    settings = load_config(AblationConfig, CONFIGS / "ablation.yaml")
    for kind, file in settings.notebook.items():
        notebook = load_config(ExperimentConfig, CONFIGS / file)
        base = next(load_config(ExperimentConfig, CONFIGS / c) for c in settings.cells if kind in c)
        sets = [s for sets in settings.differences.values() for s in sets.get(kind, [])]
        assert to_dict(notebook) == to_dict(from_dict(ExperimentConfig, apply_overrides(to_dict(base), sets))), kind
        assert to_dict(notebook) != to_dict(base)


def test_ablation_runs_each_difference_then_the_largest_and_all_on_every_seed(ablation):
    _, results = ablation
    cell = load_ablation(results)["synthetic_mf"]
    differences = [
        "batch_256",
        "cross_matrix",
        "minmax_batches",
        "notebook_masking",
        "notebook_weights",
        "sgd_recommender",
    ]
    shipped = cell.arm(SHIPPED)
    moved = {
        name: abs(cell.arm(name)[0].run.fidelity.rbo_truncated - shipped[0].run.fidelity.rbo_truncated)
        for name in differences
    }
    largest = max(moved, key=moved.get)
    assert {name: len(cell.arm(name)) for name in differences} == {n: 2 if n == largest else 1 for n in differences}
    assert [r.seed for r in shipped] == [0, 1] and [r.seed for r in cell.arm(NOTEBOOK)] == [0, 1]
    # Only the SGD recommender differs from the shipped one: it alone gets its own record, with biases that carry more.
    assert set(cell.recommenders) == {"recommender", "recommender_sgd_recommender", "recommender_notebook"}
    assert (
        cell.recommenders["recommender_sgd_recommender"].run.config_hash
        != cell.recommenders["recommender"].run.config_hash
    )
    assert all(r.bias_share > 0 for r in cell.recommenders.values())
    # The ablation's arms run no case study; the random-SAE arms run filtering only.
    assert all(not r.run.case_studies for name in differences for r in cell.arm(name))
    settings = load_config(AblationConfig, CONFIGS / "ablation.yaml")
    extra = {name: [r.seed for r in cell.arm(name)] for name in cell.named("extra")}
    assert extra == {name: [0, 1] for name, sets in settings.extra.items() if "mf" in sets} and extra
    assert cell.named("difference") == differences and cell.named("sanity") == sorted(settings.sanity)
    elapsed = read_json(results / "ablation" / "elapsed.json")
    assert [e["runs"] for e in elapsed] == [sum(len(records) for records in cell.arms.values())]
    sanity = cell.arm("frozen_decoder")
    assert [r.seed for r in sanity] == [0, 1]
    assert all(set(r.run.case_studies) == {"filtering"} for r in sanity)
    mono = shipped[0].run.mono
    assert 0 < mono.mean_activation < mono.firing_rate * 100 and 0 < mono.firing_rate <= 1


def test_fidelity_is_measured_on_the_report_users_not_the_validation_users(ablation):
    work, results = ablation
    cell = load_ablation(results)["synthetic_mf"]
    record = cell.arm(SHIPPED)[0]
    config = load_config(ExperimentConfig, CONFIGS / "quick.yaml", ["sae_train.validation_share=0.25"])
    _, split = load_split(config.data)
    folds = sae_folds(split, config.sae_train)
    assert len(folds.validation) != len(folds.report) and record.run.fidelity.users == len(folds.report)
    recommender_dir = work / "synthetic_mf" / f"recommender_{cell.recommenders['recommender'].run.config_hash}"
    recommender, _ = load_recommender(recommender_dir)
    sae, _ = load_sae(work / "synthetic_mf" / "shipped_seed0")
    scorer = reconstructed_scorer(sae, recommender)

    def measured(users: np.ndarray) -> float:
        return list_fidelity(recommender.rank_scores, scorer, split, torch.as_tensor(users)).rbo_truncated

    assert measured(folds.report) == pytest.approx(record.run.fidelity.rbo_truncated, abs=1e-6)
    assert measured(folds.validation) != pytest.approx(record.run.fidelity.rbo_truncated, abs=1e-3)


def test_page_names_the_largest_difference_and_says_whether_the_paper_was_reached(ablation):
    _, results = ablation
    cells = load_ablation(results)
    text = gap_section(results, {})
    shipped, arms = cells["synthetic_mf"].arm(SHIPPED), cells["synthetic_mf"].arms
    assert "## 8. The fidelity gap" in text and "random-SAE check" in text
    for name in arms:
        assert f"| {name} |" in text
    row = next(line for line in text.splitlines() if line.startswith(f"| {SHIPPED} |"))
    assert f"| {stat([genres_found(r) for r in shipped], 1)} |" in row
    # The verdict is for ML-1M MF only: synthetic data has no paper numbers to reach.
    assert "Verdict" not in text


def test_the_papers_kendall_tau_mostly_measures_overlap():
    examples = kendall_examples(29)
    assert examples["identical"] == pytest.approx(1.0) and examples["same items, reversed"] == pytest.approx(-1.0)
    assert examples["disjoint"] == pytest.approx(-0.67, abs=0.01)
    assert examples["half shared, same order, interleaved with new items"] == pytest.approx(0.15, abs=0.01)


def test_frozen_matrices_stay_at_their_random_initialisation(ablation):
    work, _ = ablation
    for arm, frozen, trained in (("frozen_encoder", "encoder", "decoder"), ("frozen_decoder", "decoder", "encoder")):
        sae, _ = load_sae(work / "synthetic_mf" / f"{arm}_seed0")
        config = load_config(ExperimentConfig, CONFIGS / "quick.yaml", ["sae.tied=false", "sae_train.seed=0"])
        fresh = build_sae(dataclasses.replace(config, sae=sae.config), sae.embedding_dim)
        assert torch.equal(getattr(sae, frozen), getattr(fresh, frozen)), arm
        assert not torch.equal(getattr(sae, trained), getattr(fresh, trained)), arm


def test_page_reads_the_search_front_on_report_users(ablation, tmp_path):
    """§8 shows the copied `pareto.json` of the search on the paper's measures, its best point named."""
    _, results = ablation
    page = tmp_path / "results"
    shutil.copytree(results, page)
    validation = TrialReport(18, 0.6, 0.5, 0.7, 0.0, 1.0, "ms", 0.5, 0.4)
    points = [
        FrontPoint("a", "/ckpt/a", {"alpha": 1.0, "beta": 0.5}, validation, 0.61, 0.35, 0.52, 7),
        FrontPoint("b", "/ckpt/b", {"alpha": 0.2, "beta": 3.0}, validation, 0.66, 0.41, 0.47, 5),
    ]
    write_result(ParetoFront("truncated", "ms", 604, 29, 18, 0.9, points), page / TUNE_PAPER / PARETO)
    text = gap_section(page, {})
    assert "| 0.2 | 3 |" in text and "| 0.66 | 0.41 | 0.47 | 5 |" in text
    assert "reaches truncated RBO 0.66 and Kendall tau 0.41" in text
    assert "has no results here yet" in gap_section(results, {})


def test_the_stop_rule_needs_one_configuration_within_reach_at_both_betas(ablation):
    """Reproduced only when runs of one family (differing in beta and seed alone) meet the paper at 0.1 and 1."""
    _, results = ablation
    shipped = load_ablation(results)["synthetic_mf"].arm(SHIPPED)

    def arm(name: str, family: str, beta: float, rbo: float, tau: float) -> list:
        def at(record):
            fidelity = dataclasses.replace(record.run.fidelity, rbo_truncated=rbo, kendall_tau_ranks=tau)
            run = dataclasses.replace(record.run, fidelity=fidelity)
            return dataclasses.replace(record, arm=name, group="extra", family=family, beta=beta, run=run)

        return [at(record) for record in shipped]

    def verdict(**arms) -> str:
        return stop_rule_verdict({"ml1m_mf": AblationCell({}, {"shipped": shipped, **arms})})

    paper_01, paper_1 = (0.78, 0.61), (0.85, 0.72)
    same = verdict(a=arm("a", "f", 0.1, *paper_01), b=arm("b", "f", 1.0, 0.82, 0.70))
    assert "**Reproduced**" in same and "a and b are one" in same
    apart = verdict(a=arm("a", "f", 0.1, *paper_01), b=arm("b", "g", 1.0, *paper_1))
    assert "not reproduced" in apart and "beta 0.1: a; beta 1: b" in apart
    far = verdict(a=arm("a", "f", 0.1, 0.78, 0.68), b=arm("b", "f", 1.0, *paper_1))  # tau 0.07 off at beta 0.1
    assert "not reproduced" in far and "beta 0.1: none" in far
