"""Real-data acceptance on ML-1M with MF and the paper's SAE defaults (configs/ml1m_mf.yaml), every seed."""

import dataclasses
from pathlib import Path

import pytest
import torch

from monorec.config import ExperimentConfig, load_config
from monorec.data import load_split
from monorec.interpret import interpret_sae
from monorec.pipeline import evaluate_sae, trained_recommender
from monorec.sae import build_sae, train_sae
from monorec.sae.training import sae_folds

pytestmark = pytest.mark.real_data
ROOT = Path(__file__).resolve().parents[1]
SEEDS = (0, 1, 2)


@pytest.fixture(scope="module")
def ml1m(data_dir, tmp_path_factory):
    config = load_config(
        ExperimentConfig, ROOT / "configs" / "ml1m_mf.yaml", ["train.device=cpu", "sae_train.device=cpu"]
    )
    folder = tmp_path_factory.mktemp("ml1m") / "recommender"
    recommender = trained_recommender(config, folder)
    data, split = load_split(config.data)
    report_users = sae_folds(split, config.sae_train).report
    results = {}

    def run(beta: float, seed: int):
        if (beta, seed) not in results:
            settings = dataclasses.replace(
                config, sae_train=dataclasses.replace(config.sae_train, beta=beta, seed=seed)
            )
            sae = build_sae(settings, recommender.embedding_dim)
            train_sae(sae, recommender, split, settings.sae_train)
            fidelity = evaluate_sae(sae, recommender, split, settings, torch.device("cpu"), report_users, folder)
            results[beta, seed] = fidelity, interpret_sae(sae, recommender, data, settings.interpret)
        return results[beta, seed]

    return run


@pytest.mark.parametrize("seed", SEEDS)
def test_paper_concepts_and_popularity_neuron_for_every_seed(ml1m, seed):
    """What the results page claims for every seed, not only the lucky one.

    The paper's popularity neuron sits at about 2.5% (K = 20); ours, with inactive top items
    counted as misses, ranges 4-9% over seeds 0-2 (a shortfall the page names). What holds for
    every seed is a neuron whose top-20 items lie, on average, in the most popular tenth.
    """
    fidelity, report = ml1m(0.1, seed)
    pure = {c for c, best in report.mono.concepts.items() if best.purity[10] >= 0.9}
    assert len(pure) >= 5 and {"Horror", "Comedy", "Children's"} <= pure, pure
    assert report.mono.popularity_neuron.percentile[20] <= 10.0, report.mono.popularity_neuron
    assert fidelity.users == 604 and 0.5 < fidelity.rbo_truncated < 1 - 0.9**29 + 1e-6


def test_prediction_loss_improves_held_out_fidelity(ml1m):
    with_pred, _ = ml1m(0.1, 0)
    without_pred, _ = ml1m(0.0, 0)
    assert with_pred.rbo_truncated > without_pred.rbo_truncated + 0.03
    assert with_pred.kendall_tau_ranks > without_pred.kendall_tau_ranks
