"""Steering on the planted dataset: each op, each tower and calibration move the lists as planted."""

import dataclasses

import numpy as np
import pytest
import torch
from sae_fixtures import SAE_TRAIN, planted, trained_sae

from monorec.config import CaseStudyConfig
from monorec.data.split import Split
from monorec.errors import InvalidRequestError, UnknownIdError
from monorec.interventions import Calibrator, Intervention, Steerer, Target, UnreachableTargetError, baselines
from monorec.interventions.case_studies import case_studies
from monorec.interventions.effects import Lists, concept_share
from monorec.interventions.steering import BiasReadout, edited_codes
from monorec.sae.training import sae_folds


@pytest.fixture(scope="module")
def steering():
    data, truth, split, model = planted()
    sae, _, report = trained_sae()
    steerer = Steerer(model, sae, report.labels, data.item_ids, data.items)
    calibrator = Calibrator.build(steerer, *split.train_csr(), sae_folds(split, SAE_TRAIN).validation, data.items)
    return steerer, calibrator, report, data, truth, split


def _horror(steering):
    _steerer, _calibrator, _report, _data, truth, _split = steering
    genre = truth.genre_names.index("Horror")
    fans = torch.as_tensor(np.flatnonzero(truth.user_genres[:, genre]))
    items = torch.as_tensor(truth.item_genres[:, genre])
    return fans, items


def _share(steering, users, interventions, items, k=10):
    _, calibrator, *_ = steering
    scores = calibrator.mask(steering[0].scores(users, interventions), users)
    return concept_share(items, k)(scores).mean().item()


def test_no_intervention_gives_the_models_own_scores(steering):
    steerer = steering[0]
    users = torch.arange(50)
    assert torch.equal(steerer.scores(users), steerer.recommender.rank_scores(users))


def test_operations_by_hand():
    codes, reference = torch.tensor([[1.0, 2.0], [0.0, 4.0]]), torch.tensor([3.0, 5.0])
    assert edited_codes(codes, "suppress", 1.0, reference).tolist() == [[0, 0], [0, 0]]
    assert edited_codes(codes, "suppress", 2.0, reference).tolist() == [[-1, -2], [0, -4]]  # beyond removal
    assert edited_codes(codes, "boost", 1.0, reference).tolist() == [[4, 7], [3, 9]]  # + s x the largest activation
    assert edited_codes(codes, "scale", -0.5, reference).tolist() == [[-0.5, -1], [0, -2]]
    assert edited_codes(codes, "set", 2.5, reference).tolist() == [[2.5, 2.5], [2.5, 2.5]]


def test_suppressing_horror_on_each_tower_lowers_it_and_stronger_lowers_more(steering):
    fans, items = _horror(steering)
    before = _share(steering, fans, [], items)
    shares = {
        (tower, s): _share(steering, fans, [Intervention("Horror", "suppress", s, tower)], items)
        for tower in ("user", "item", "both")
        for s in (1.0, 3.0)
    }
    assert before > items.float().mean().item()  # the planted fans get more Horror than the catalogue holds
    for tower in ("user", "item", "both"):
        assert shares[tower, 3.0] < shares[tower, 1.0] < before, shares
    # Removal from both towers beats removal from either; beyond removal, both stays a suppression
    # (the item side stops at removal, so two negated sides never multiply back into a boost).
    assert shares["both", 1.0] < min(shares["user", 1.0], shares["item", 1.0])
    assert shares["both", 3.0] < 0.5 * before


def test_boosting_horror_on_one_item_lifts_it_for_horror_fans(steering):
    """A niche Western item gains the Horror direction: Horror fans who do not like Westerns now rank it."""
    steerer, calibrator, _report, data, truth, _split = steering
    western, horror = truth.genre_names.index("Western"), truth.genre_names.index("Horror")
    only_western = np.flatnonzero(truth.item_genres[:, western] & (truth.item_genres.sum(1) == 1))
    item = int(only_western[np.argmin(data.items["popularity"].to_numpy()[only_western])])
    users = torch.as_tensor(np.flatnonzero(truth.user_genres[:, horror] & ~truth.user_genres[:, western]))
    item_id = data.item_ids[item]

    def median_rank(strength):
        edit = Intervention("Horror", "boost", strength, "item", (item_id,))
        scores = calibrator.mask(steerer.scores(users, [edit]), users)
        return (1 + (scores > scores[:, item : item + 1]).sum(1)).float().median().item()

    assert median_rank(4.0) < 0.5 * median_rank(0.0)
    assert median_rank(8.0) < median_rank(2.0)


def test_interventions_never_change_stored_codes_and_labels_address_all_their_neurons(steering):
    steerer, _, report, *_ = steering
    stored = steerer.user_codes.codes.clone(), steerer.item_codes.codes.clone()
    users = torch.arange(20)
    horror = report.labels["Horror"]
    by_label = steerer.scores(users, [Intervention("Horror", "scale", 0.5, "both", (3, 4))])
    by_id = steerer.scores(users, [Intervention(n, "scale", 0.5, "both", (3, 4)) for n in horror])
    assert torch.allclose(by_label, by_id, atol=1e-5) and not torch.equal(by_id, steerer.scores(users))
    assert torch.equal(stored[0], steerer.user_codes.codes) and torch.equal(stored[1], steerer.item_codes.codes)
    with pytest.raises(UnknownIdError, match="unknown neuron label 'Polka'"):
        steerer.scores(users, [Intervention("Polka")])
    with pytest.raises(UnknownIdError, match=r"the SAE has neurons 0\.\.23"):
        steerer.neurons(99)
    with pytest.raises(UnknownIdError, match="unknown item_id '999999'"):
        steerer.check([Intervention("Horror", "boost", 1.0, "item", ("999999",))])


def test_calibration_finds_the_smallest_strength_that_meets_a_target(steering):
    steerer, calibrator, *_ = steering
    target = Target("concept_share", 10, at_most=0.1, concept="Horror")
    edit = Intervention("Horror", "suppress", tower="both", target=target)
    found = calibrator.calibrate(edit)
    assert found.strength is not None and found.effect <= 0.1 and found.users > 0
    population = calibrator.population(target)
    slightly_weaker = edit.at(found.strength * 0.97)
    scores = calibrator.mask(steerer.scores(population, [slightly_weaker]), population)
    assert calibrator.effect_fn(target)(scores).mean().item() > 0.1  # the smallest, within the bisection's precision
    resolved, _ = calibrator.resolve(edit)
    assert resolved.strength == found.strength and resolved.target is None
    unreachable = Intervention("Horror", "suppress", target=Target("concept_share", 10, at_most=0.0, concept="Horror"))
    with pytest.raises(UnreachableTargetError, match="target unreachable"):
        calibrator.resolve(dataclasses.replace(unreachable, tower="user"))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Target("concept_share", 10, at_least=0.1, concept="Horror"), "takes at_most"),
        (lambda: Target("concept_share", 10, at_most=0.1), "names its concept"),
        (lambda: Target("long_tail_share", 10, at_most=0.2, at_least=0.1), "exactly one of"),
        (lambda: Target("long_tail_share", 10, at_least=1.5), r"a share in \[0, 1\]"),
        (lambda: Target("item_reach", 0, at_least=0.5, item_id=3), r"k must be in 1\.\.1000"),
        (lambda: Intervention("Horror", "scale", target=Target("long_tail_share", at_least=0.2)), "not scale"),
        (lambda: Intervention("Horror", strength=1.0, target=Target("long_tail_share", at_least=0.2)), "not both"),
        (lambda: Intervention("Horror", "set"), "set needs a strength"),
        (lambda: Intervention("Horror", "suppress", -1.0), "strength >= 0"),
        (lambda: Intervention("Horror", "suppress", float("inf")), "finite"),
        (lambda: Intervention("Horror", tower="user", item_ids=(1,)), "item_ids apply to the item tower"),
    ],
)
def test_contradictory_interventions_and_targets_are_refused(make, message):
    with pytest.raises(InvalidRequestError, match=message):
        make()


def test_bias_readout_recovers_a_linear_bias_from_the_neurons_it_is_given():
    codes = torch.rand(200, 5)
    weights = torch.tensor([0.5, -1.0, 2.0, 0.0, 0.3])
    readout = BiasReadout.fit(codes, codes @ weights + 0.7, range(5))
    assert torch.allclose(readout.weights, weights, atol=1e-2) and readout.r2 > 0.999
    partial = BiasReadout.fit(codes, codes[:, 2] * 2.0 + 0.7, [2])
    assert partial.weights.tolist() == pytest.approx([0, 0, 2.0, 0, 0], abs=1e-2) and partial.r2 > 0.999


def test_item_edits_move_mf_biases_through_the_readout(steering):
    """An item-tower edit changes an MF logit by the embedding change plus the bias read-out's change."""
    steerer = steering[0]
    assert steerer.bias_readout is not None and steerer.bias_readout.r2 > 0.2
    popular = steerer.directions["popularity"].neurons
    outside = [j for j in range(steerer.sae.n_latents) if j not in popular]
    assert steerer.bias_readout.weights[outside].abs().max() == 0  # only the popularity neurons move biases
    users, neuron = torch.arange(5), popular[0]
    edit = Intervention(neuron, "suppress", 1.0, "item")
    change = -steerer.item_codes.codes[:, neuron]
    shift = change[:, None] * steerer.decoder[:, neuron] * steerer.item_codes.std
    model = steerer.recommender
    expected = model.logits_all(users, model.user_embeddings(users), model.item_embeddings() + shift)
    expected = expected + change * steerer.bias_readout.weights[neuron]
    assert torch.allclose(steerer.scores(users, [edit]), expected, atol=1e-4)


def test_effect_collateral_and_ndcg_by_hand():
    # 1 user, 6 items; item 0 is a training item (masked); item 2 is held out.
    split = Split(1, 6, np.array([0]), np.array([0]), np.array([0]), np.array([[2]]), np.zeros((1, 0), int))
    concept = torch.tensor([False, True, False, True, False, False])
    before = torch.tensor([[float("-inf"), 8.0, 7.0, 6.0, 1.0, 0.0]])
    lists = Lists(torch.tensor([0]), before, concept_share(concept, 2), ~concept, 2, split)
    point = lists.measure(torch.tensor([[float("-inf"), 0.0, 7.0, 1.0, 6.0, 5.0]]), 1.5)
    assert point.strength == 1.5 and point.effect == 0.0  # top-2 after: items 2 and 4, neither carries it
    # Over the untouched items the top-2 is [2, 4] before and after: the rest of the list kept its order.
    assert point.collateral_rbo == pytest.approx(1.0)
    assert point.ndcg == pytest.approx(1.0)  # the held-out item 2 is first after
    assert lists.measure(before, 0.0).ndcg == pytest.approx(1 / np.log2(3))  # it was second before
    filtered = baselines.metadata_filter(lists, concept)
    assert filtered.points[-1].effect == 0.0 and all(pt.collateral_rbo == pytest.approx(1.0) for pt in filtered.points)


def test_case_studies_calibrate_on_validation_and_report_on_report_users(steering):
    _steerer, calibrator, report, data, _truth, split = steering
    settings = CaseStudyConfig(
        promote_item=None,
        promote_concept="Western",
        audiences=["Horror"],
        filter_users=15,
        filter_max_share=0.15,
        hidden_tags=0.0,  # every tag seen: calibration and evaluation read the same tags
    )
    folds = sae_folds(split, SAE_TRAIN)
    studies = case_studies(calibrator, data, split, report, settings, folds.report)
    filtering = studies.filtering
    assert filtering.subject == "Horror" and filtering.users == 15 and filtering.calibration.reached
    assert filtering.calibration.validation_effect <= 0.15 < filtering.before.effect
    # Calibrated on the validation users, it holds on the report users (within sampling noise).
    assert filtering.calibration.report.effect <= 0.15 + 0.05 < filtering.before.effect
    methods = {c.method for c in filtering.curves}
    assert methods >= {"SAE: suppress its neuron on the user tower", "SAE: suppress its direction on both towers"}
    assert methods >= {
        "probe: suppress the probe's direction on the user tower",
        "baseline: metadata filter (visible tags)",
    }
    visible_filter = next(o for o in filtering.operating if o.method == "baseline: metadata filter (visible tags)")
    assert visible_filter.point.effect == 0.0 and visible_filter.hidden_removed == 0  # nothing hidden: it removes all
    popularity = studies.popularity
    assert popularity.details["mean_percentile_after"] > popularity.details["mean_percentile_before"]
    assert popularity.calibration.report.effect > popularity.before.effect
    assert [o.method.split(":")[0] for o in popularity.operating][:1] == ["SAE"]
    assert {o.method for o in popularity.operating[1:]} <= {"baseline: popularity penalty", "baseline: smooth xQuAD"}
    for matched in popularity.operating[1:]:  # read on their curves at the SAE's long-tail share
        assert matched.point.effect == pytest.approx(popularity.calibration.report.effect)
    promotion = studies.promotion
    assert promotion is not None and promotion.users > 0 and promotion.before.outside is not None
    assert all(p.outside is not None for c in promotion.curves for p in c.points)  # spill-over traced everywhere
