"""Interpretability measures on hand-made activations and metadata."""

import dataclasses

import numpy as np
import pandas as pd
import pytest
import torch
from sae_fixtures import planted, trained_sae

from monorec.config import InterpretConfig
from monorec.data import build_dataset
from monorec.interpret import interpret_sae
from monorec.interpret.concepts import Concepts, item_concepts
from monorec.interpret.neurons import (
    best_neurons,
    label_neurons,
    monosemanticity,
    popularity_percentile,
    purity,
    top_decade_share,
)
from monorec.sae.scan import TopActivations, scan

# 6 items x 3 neurons. Neuron 0 fires on items 0-2, neuron 1 on items 3-5, neuron 2 only on item 4.
ACTIVATIONS = torch.tensor(
    [[3.0, 0.0, 0.0], [2.0, 0.0, 0.0], [1.0, 0.1, 0.0], [0.0, 3.0, 0.0], [0.0, 2.0, 5.0], [0.0, 1.0, 0.0]]
)
TOP = TopActivations.of(ACTIVATIONS, depth=6)
HORROR = np.array([True, True, False, False, False, False])
COMEDY = np.array([False, False, True, True, True, True])
CONCEPTS = Concepts(["Horror", "Comedy"], ["genre", "genre"], np.stack([HORROR, COMEDY], axis=1))


def test_purity_counts_inactive_items_as_misses():
    got = purity(TOP, CONCEPTS.matrix, k=2)
    assert got[0].tolist() == [1.0, 0.0]
    assert got[1].tolist() == [0.0, 1.0]
    assert got[2].tolist() == [0.0, 0.5]  # fires on one Comedy item only: 1 of its top 2
    assert purity(TOP, CONCEPTS.matrix, k=3)[0].tolist() == pytest.approx([2 / 3, 1 / 3])


def test_best_neuron_per_concept_breaks_ties_with_larger_k():
    purities = {k: purity(TOP, CONCEPTS.matrix, k) for k in (1, 3)}
    best = best_neurons(purities, CONCEPTS.names)
    assert best["Horror"].neuron == 0 and best["Horror"].purity == {1: 1.0, 3: pytest.approx(2 / 3)}
    # Neurons 1 and 2 both have Comedy p@1 = 1; neuron 1 wins on p@3 (1.0 vs 1/3).
    assert best["Comedy"].neuron == 1 and best["Comedy"].purity[3] == 1.0


def test_labels_precision_recall_confidence_and_threshold():
    labels = label_neurons(TOP, CONCEPTS, k=2, threshold=0.5)
    assert labels[0].label == "Horror" and labels[0].family == "genre"
    assert labels[0].precision == 1.0 and labels[0].recall == 1.0 and labels[0].confidence == pytest.approx(1.0)
    assert labels[1].label == "Comedy" and labels[1].confidence == pytest.approx(1.0)
    # Neuron 2: Comedy precision 0.5 against a base rate of 4/6 -> negative lift -> unlabelled.
    assert labels[2].label is None and labels[2].confidence == 0.0


def test_popularity_and_decade_neurons():
    percentile = np.array([0.0, 10.0, 20.0, 80.0, 90.0, 100.0])
    got = popularity_percentile(TOP, percentile, k=2)
    # Neuron 2 is active on item 4 only: its inactive second item counts as a miss (percentile 100),
    # so a neuron firing on one or two items cannot pass for a popularity neuron.
    assert got.tolist() == pytest.approx([5.0, 85.0, (90.0 + 100.0) / 2])
    decades = np.array([1990, 1990, 1980, 1970, -1, 1970])
    shares, modes = top_decade_share(TOP, decades, k=3)
    assert modes.tolist() == [1990, 1970, -1] and shares.tolist() == pytest.approx([2 / 3, 2 / 3, 0.0])


def test_monosemanticity_by_hand():
    vectors = np.stack([HORROR, COMEDY], axis=1).astype(float)
    ms = monosemanticity(TOP, vectors, top_n=3)
    # Neuron 1's top 3 (items 3, 4, 5) are all Comedy: MS = 1. Neuron 0's top 3 mixes genres:
    # min-max weights a = (1, 2/3, 1/3); only the (0, 1) pair is similar -> 2*(2/3) / 2*(2/3 + 1/3 + 2/9).
    assert ms[1] == pytest.approx(1.0)
    assert ms[0] == pytest.approx((2 / 3) / (2 / 3 + 1 / 3 + 2 / 9))
    with_dead = TopActivations.of(torch.cat([ACTIVATIONS, torch.zeros(6, 1)], dim=1), depth=3)
    dead = monosemanticity(with_dead, vectors, top_n=3)
    assert dead[3] == 0.0 and dead.mean() == pytest.approx(ms.sum() / 4)  # a dead neuron counts as 0 in MS


def test_item_concepts_families():
    interactions = pd.DataFrame({"user_id": [1, 1, 2, 2, 3], "item_id": [10, 20, 10, 30, 10]})
    table = pd.DataFrame(
        {"name": ["a", "b", "c"], "concepts": [["Horror"], ["Comedy"], []], "year": [1994, 1985, None]},
        index=pd.Index([10, 20, 30], name="item_id"),
    )
    concepts = item_concepts(build_dataset("t", interactions, table), popular_share=0.34, long_tail_share=0.34)
    assert concepts.names == ["Comedy", "Horror", "1980s", "1990s", "Popular", "Long tail"]
    assert concepts.families == ["genre", "genre", "decade", "decade", "popularity", "popularity"]
    assert concepts.matrix[:, concepts.index("Popular")].tolist() == [True, False, False]
    assert concepts.matrix[:, concepts.index("1990s")].tolist() == [True, False, False]


def test_scan_in_chunks_equals_one_pass_including_ties():
    generator = torch.Generator().manual_seed(0)
    # Rounded activations have many ties; relu leaves many zeros, as SAE codes do.
    activations = torch.relu(torch.randn(103, 5, generator=generator)).mul(4).round()
    whole = TopActivations.of(activations, depth=20)
    chunked = scan(lambda chunk: chunk, activations, depth=20, chunk_size=7)
    for name in ("values", "indices", "low", "high", "active"):
        assert torch.equal(getattr(chunked, name), getattr(whole, name)), name
    expected = activations.T.sort(dim=1, descending=True, stable=True)
    assert torch.equal(whole.indices, expected.indices[:, :20])  # ties go to the lower item index
    assert whole.active.tolist() == (activations > 0).sum(0).tolist()


def test_chunked_interpretation_gives_exactly_the_one_pass_report():
    data, _, _, model = planted()
    sae, _, whole = trained_sae()
    chunked = interpret_sae(sae, model, data, dataclasses.replace(InterpretConfig(), chunk_size=13))
    pd.testing.assert_frame_equal(chunked.neurons, whole.neurons)
    # The mean activation sums every code, whose float32 products round differently in other batch sizes.
    assert chunked.mono.mean_activation == pytest.approx(whole.mono.mean_activation, rel=1e-9)
    assert dataclasses.replace(chunked.mono, mean_activation=None) == dataclasses.replace(
        whole.mono, mean_activation=None
    )
