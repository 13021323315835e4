"""Real-data acceptance on ML-1M with MF and the paper's SAE defaults (configs/ml1m_mf.yaml)."""

import dataclasses
from pathlib import Path

import pytest
import torch

from monorec.config import ExperimentConfig, load_config
from monorec.data import load_split
from monorec.interpret import interpret_sae
from monorec.pipeline import evaluate_sae, trained_recommender
from monorec.sae import build_sae, train_sae

pytestmark = pytest.mark.real_data
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def ml1m(data_dir, tmp_path_factory):
    config = load_config(
        ExperimentConfig, ROOT / "configs" / "ml1m_mf.yaml", ["train.device=cpu", "sae_train.device=cpu"]
    )
    recommender = trained_recommender(config, tmp_path_factory.mktemp("ml1m") / "recommender")
    data, split = load_split(config.data)

    def run(beta: float):
        sae = build_sae(config, recommender.embedding_dim)
        train_sae(sae, recommender, split, dataclasses.replace(config.sae_train, beta=beta))
        fidelity = evaluate_sae(sae, recommender, split, config, torch.device("cpu"))
        return fidelity, interpret_sae(sae, recommender, data, config.interpret)

    return run


def test_paper_concepts_and_popularity_neuron(ml1m):
    fidelity, report = ml1m(0.1)
    pure = {c for c, best in report.mono.concepts.items() if best.purity[10] >= 0.9}
    assert len(pure) >= 5 and {"Horror", "Comedy", "Children's"} <= pure
    assert report.mono.popularity_neuron.percentile[20] <= 5.0
    baseline, _ = ml1m(0.0)
    assert fidelity.rbo > baseline.rbo
