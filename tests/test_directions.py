"""Concept directions, the linear probe and the hidden-tag filtering study, on planted data."""

import dataclasses

import numpy as np
import pytest
import torch
from sae_fixtures import SAE_TRAIN, planted, trained_sae

from monorec.case_studies import filtering as filtering_module
from monorec.case_studies.context import Study
from monorec.config import CaseStudyConfig
from monorec.errors import InvalidRequestError, UnknownIdError
from monorec.interventions import Calibrator, Intervention, Steerer
from monorec.interventions.directions import Direction, LinearProbe, cohens_d, direction, head_items
from monorec.interventions.popsteer import POPSTEER, popsteer_direction, synthetic_histories
from monorec.recommenders.fold_in import NEWTON
from monorec.sae.training import sae_folds


def test_cohens_d_matches_its_formula_and_the_direction_keeps_medium_effects_weighted_by_it():
    rng = np.random.default_rng(0)
    members = np.zeros(400, dtype=bool)
    members[:100] = True
    codes = rng.normal(size=(400, 4))
    codes[members, 0] += 3.0  # strong
    codes[members, 1] += 1.5  # medium-to-large
    codes[members, 2] += 0.2  # small: left out
    codes[members, 3] -= 2.0  # the opposite of the concept: left out
    inside, outside = codes[members], codes[~members]
    pooled = ((99 * inside.var(0, ddof=1) + 299 * outside.var(0, ddof=1)) / 398) ** 0.5
    expected = (inside.mean(0) - outside.mean(0)) / pooled
    effect = cohens_d(torch.as_tensor(codes), torch.as_tensor(members))
    assert effect.numpy() == pytest.approx(expected, rel=1e-6)
    found = direction(torch.as_tensor(codes), torch.as_tensor(members))
    assert found.neurons == (0, 1)
    assert found.weights == pytest.approx((1.0, expected[1] / expected[0]), rel=1e-5)


def test_a_direction_with_no_medium_effect_is_its_best_neuron_alone():
    codes = torch.tensor([[0.0, 1.0], [0.1, 1.1], [0.0, 1.0], [0.1, 1.2], [0.0, 1.1]])
    members = torch.tensor([True, True, False, False, False])
    assert direction(codes, members, min_effect=100.0) == Direction((int(cohens_d(codes, members).argmax()),), (1.0,))


@pytest.fixture(scope="module")
def planted_steerer():
    data, truth, _, model = planted()
    sae, _, report = trained_sae()
    return Steerer(model, sae, report.labels, data.item_ids, data.items), report, truth


def test_every_planted_genre_direction_weights_its_own_neurons_above_unrelated_ones(planted_steerer):
    steerer, report, truth = planted_steerer
    for genre in truth.genre_names:
        found = steerer.directions[genre]
        weights = dict(zip(found.neurons, found.weights))
        own = report.mono.concepts[genre].neuron  # the neuron whose top items are purest in the genre
        others = [report.mono.concepts[g].neuron for g in truth.genre_names if g != genre]
        assert weights.get(own, 0.0) >= 0.5, (genre, weights)
        assert all(weights.get(other, 0.0) < weights[own] for other in others if other != own), (genre, weights)
    assert "popularity" in steerer.directions and max(steerer.directions["popularity"].weights) == 1.0


def test_a_direction_edit_is_each_neurons_edit_scaled_by_its_weight(planted_steerer):
    steerer, _, _ = planted_steerer
    twin = steerer.seeing(planted()[0].items)
    twin.bias_readout = None  # the embeddings' part alone, checked by hand below
    twin.directions = {"pair": Direction((2, 5), (1.0, 0.5))}
    users = torch.arange(6)
    codes = twin.user_codes.codes[users][:, [2, 5]]
    change = -2.0 * codes * torch.tensor([1.0, 0.5])  # suppress at 2: z_j - w_j * 2 z_j
    shift = change @ twin.decoder[:, [2, 5]].T * twin.user_codes.std[users]
    model = twin.recommender
    expected = model.logits_all(users, model.user_embeddings(users) + shift, model.item_embeddings())
    got = twin.scores(users, [Intervention(concept="pair", op="suppress", strength=2.0)])
    assert torch.allclose(got, expected, atol=1e-4)
    # One neuron of weight 1 is exactly that neuron's own edit.
    twin.directions = {"one": Direction((4,), (1.0,))}
    alone = twin.scores(users, [Intervention(4, "boost", 3.0, "both")])
    assert torch.equal(twin.scores(users, [Intervention(concept="one", op="boost", strength=3.0, tower="both")]), alone)


def test_an_intervention_names_exactly_one_of_neuron_and_concept_and_unknown_concepts_are_404(planted_steerer):
    steerer, _, _ = planted_steerer
    with pytest.raises(InvalidRequestError, match="exactly one of neuron and concept"):
        Intervention()
    with pytest.raises(InvalidRequestError, match="exactly one of neuron and concept"):
        Intervention(3, concept="Horror")
    with pytest.raises(UnknownIdError, match="unknown concept 'Polka'"):
        steerer.check([Intervention(concept="Polka")])


def test_the_linear_probe_finds_a_planted_genre_from_the_embeddings():
    _, truth, _, model = planted()
    horror = torch.as_tensor(truth.item_genres[:, truth.genre_names.index("Horror")])
    probe = LinearProbe.fit(model.item_embeddings(), horror)
    predicted = probe.probability(model.item_embeddings()) >= 0.5
    recall = (predicted & horror).sum() / horror.sum()
    precision = (predicted & horror).sum() / predicted.sum()
    assert recall > 0.8 and precision > 0.8, (recall, precision)


def _filtering_study(items_table, visible_mask, monkeypatch, hidden_tags=0.5):
    """The filtering study on planted data whose item table is `items_table`, with the hidden tags
    forced to be every carrier outside `visible_mask` (so two tables can share their visible tags)."""
    data, _, split, model = planted()
    data = dataclasses.replace(data, items=items_table)
    sae, _, report = trained_sae()
    monkeypatch.setattr(filtering_module, "hide_tags", lambda carriers, share, seed: carriers & ~visible_mask)
    steerer = Steerer(model, sae, report.labels, data.item_ids, data.items)
    folds = sae_folds(split, SAE_TRAIN)
    calibrator = Calibrator.build(steerer, *split.train_csr(), folds.validation, data.items)
    settings = CaseStudyConfig(filter_users=15, filter_max_share=0.15, hidden_tags=hidden_tags)
    study = Study(calibrator, data, split, report, torch.as_tensor(folds.report), settings, NEWTON)
    return filtering_module.FILTERING.result(study)


def _with_horror_on(items_table, carriers):
    table = items_table.copy()
    table["concepts"] = [
        sorted({*(c for c in concepts if c != "Horror"), *(["Horror"] if carry else [])})
        for concepts, carry in zip(items_table["concepts"], carriers)
    ]
    return table


def test_hidden_tags_count_in_the_evaluation_and_nowhere_else(monkeypatch):
    data, truth, _, _ = planted()
    horror = truth.item_genres[:, truth.genre_names.index("Horror")]
    rng = np.random.default_rng(1)
    carriers = np.flatnonzero(horror)
    visible = np.zeros_like(horror)
    visible[rng.choice(carriers, len(carriers) // 2, replace=False)] = True
    # Two catalogues with the same visible Horror tags, whose hidden tags lie on different items.
    elsewhere = np.zeros_like(horror)
    elsewhere[rng.choice(np.flatnonzero(~horror), int((horror & ~visible).sum()), replace=False)] = True
    real = _filtering_study(data.items, visible, monkeypatch)
    decoy = _filtering_study(_with_horror_on(data.items, visible | elsewhere), visible, monkeypatch)

    # Everything monorec computes reads only the visible tags, so it is the same for both ...
    assert real.chosen == decoy.chosen and real.neurons == decoy.neurons
    assert real.calibration.strength == decoy.calibration.strength
    assert real.calibration.validation_effect == decoy.calibration.validation_effect
    assert real.details["probe_inferred_items"] == decoy.details["probe_inferred_items"]
    real_probe, decoy_probe = (s.operating_from("probe") for s in (real, decoy))
    assert real_probe.method == decoy_probe.method and real_probe.point.strength == decoy_probe.point.strength
    # ... and the evaluation reads every tag: the hidden ones count as the concept.
    assert real.details["hidden_items"] == (horror & ~visible).sum() and real.details["hidden_in_top_before"] > 0
    every_tag = real.operating_from("reference")
    visible_only = real.operating_of("metadata filter (visible tags)")
    assert every_tag.point.effect == 0.0 and visible_only.point.effect > 0.0  # the hidden items stay in
    assert every_tag.hidden_removed == real.details["hidden_in_top_before"] and visible_only.hidden_removed <= 0
    assert real.before.effect != decoy.before.effect or real.calibration.report != decoy.calibration.report


def test_popsteer_draws_synthetic_users_of_real_lengths_from_one_group_only():
    rng = np.random.default_rng(0)
    pool = np.arange(10, 30)
    histories = synthetic_histories(np.array([3, 5, 50]), pool, 200, rng)
    assert {len(h) for h in histories} == {3, 5, 20}  # 50 is cut to the group's 20 items
    assert all(np.isin(h, pool).all() and len(set(h)) == len(h) for h in histories)


def test_popsteers_synthetic_users_find_the_neurons_that_rank_popular_items(planted_steerer):
    steerer, _, _ = planted_steerer
    data, _, split, model = planted()
    indptr, _ = split.history_csr()
    head = head_items(data.items["popularity_percentile"].to_numpy())
    found = popsteer_direction(model, steerer.sae, NEWTON, np.diff(indptr), head)
    assert max(found.weights) == 1.0 and len(found.neurons) >= 1
    strongest = found.neurons[int(np.argmax(found.weights))]
    # Its strongest neuron is one of those whose item codes separate the head from the long tail.
    assert strongest in steerer.directions["popularity"].neurons, (found, steerer.directions["popularity"])
    users = torch.arange(200)
    tail = torch.as_tensor(~head)
    suppress = [Intervention(concept=POPSTEER, op="suppress", strength=1.0, tower="item")]  # MF: biases too
    twin = steerer.with_direction(POPSTEER, found)
    before, after = (tail[twin.scores(users, edits).topk(10).indices].float().mean() for edits in ([], suppress))
    assert after >= before + 0.03, (before, after)  # measured 0.001 -> 0.069
