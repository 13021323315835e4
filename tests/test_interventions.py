"""Steering on the planted dataset: each op, each tower and calibration move the lists as planted."""

import dataclasses

import numpy as np
import pytest
import torch
from sae_fixtures import SAE_TRAIN, planted, trained_sae

from monorec.case_studies import run_case_studies
from monorec.case_studies.context import Study
from monorec.case_studies.popularity import POPULARITY, LongTail
from monorec.case_studies.spec import Baseline, pool, spill
from monorec.config import CaseStudyConfig
from monorec.data.split import Split
from monorec.errors import InvalidRequestError, UnknownIdError
from monorec.interventions import Calibrator, Intervention, Steerer, Target, UnreachableTargetError
from monorec.interventions.bias_readout import BiasReadout
from monorec.interventions.controls import ItemShift, metadata_filter
from monorec.interventions.effects import Lists, concept_share
from monorec.interventions.steering import edited_codes
from monorec.recommenders.fold_in import NEWTON
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


def test_an_item_edit_is_computed_once_for_every_user_and_never_across_direction_sets(steering):
    steerer, _, _, data, *_ = steering
    edit = [Intervention(concept="Horror", op="suppress", strength=1.0, tower="both")]
    together = steerer.scores(torch.arange(20), edit, keep_items=True)
    apart = [steerer.scores(users, edit, keep_items=True) for users in (torch.arange(10), torch.arange(10, 20))]
    assert torch.equal(together, torch.cat(apart))  # the kept item table is the one the first call computed
    assert torch.equal(together, steerer.scores(torch.arange(20), edit))  # and the one computed afresh
    kept = len(steerer._item_tables)
    steerer.scores(torch.arange(5), [dataclasses.replace(edit[0], strength=0.37)])  # as a sweep scores
    assert len(steerer._item_tables) == kept  # only what a service asks to keep is kept
    user_only = steerer.scores(torch.arange(20), [dataclasses.replace(edit[0], tower="user")])
    assert not torch.equal(together, user_only)  # the item side did move
    item_only = [dataclasses.replace(edit[0], tower="item")]
    steerer.scores(torch.arange(20), item_only, keep_items=True)  # now in the original's cache
    hidden = data.items.assign(concepts=data.items["concepts"].map(lambda tags: [t for t in tags if t != "Horror"]))
    with pytest.raises(UnknownIdError, match="unknown concept 'Horror'"):
        steerer.seeing(hidden).scores(torch.arange(20), item_only, keep_items=True)  # a twin never answers from it


def test_the_tensor_cache_keeps_the_most_recent_within_its_bytes():
    from monorec.interventions.cache import TensorCache

    cache, computed = TensorCache(max_bytes=2 * 400), []

    def table(key: str) -> tuple:
        computed.append(key)
        return (torch.zeros(100), None)  # 400 bytes

    first = cache.get("a", lambda: table("a"))
    assert cache.get("a", lambda: table("a")) is first and computed == ["a"]
    cache.get("b", lambda: table("b"))
    cache.get("a", lambda: table("a"))  # "a" is now the most recent
    cache.get("c", lambda: table("c"))  # over the bound: "b", the least recent, goes
    assert len(cache) == 2
    cache.get("a", lambda: table("a"))
    cache.get("b", lambda: table("b"))
    assert computed == ["a", "b", "c", "b"]
    small = TensorCache(max_bytes=100)
    assert small.get("big", lambda: table("big"))[0].shape == (100,) and len(small) == 0  # returned, not kept


def test_calibration_finds_the_smallest_strength_that_meets_a_target(steering):
    steerer, calibrator, *_ = steering
    target = Target("concept_share", 10, at_most=0.1, concept="Horror")
    edit = Intervention("Horror", "suppress", tower="both", target=target)
    found = calibrator.calibrate(edit)
    population = calibrator.population(target)
    slots = len(population) * 10  # a share is judged as a count of list slots
    assert found.strength is not None and round(found.effect * slots) <= 0.1 * slots and found.users > 0
    slightly_weaker = edit.at(found.strength * 0.97)
    scores = calibrator.mask(steerer.scores(population, [slightly_weaker]), population)
    weaker = calibrator.effect_fn(target)(scores).mean().item()
    assert round(weaker * slots) > 0.1 * slots  # the smallest, within the bisection's precision
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
    filtered = lists.trace(metadata_filter(lists.unedited, concept), (0.0, 1.0, 1e9))
    assert filtered[-1].effect == 0.0 and all(pt.collateral_rbo == pytest.approx(1.0) for pt in filtered)


def test_case_studies_calibrate_on_validation_and_report_on_report_users(steering):
    _steerer, calibrator, report, data, truth, split = steering
    western = truth.genre_names.index("Western")
    only_western = np.flatnonzero(truth.item_genres[:, western] & (truth.item_genres.sum(1) == 1))
    promoted = int(only_western[np.argsort(data.items["popularity"].to_numpy()[only_western])[len(only_western) // 2]])
    settings = CaseStudyConfig(
        promote_item=data.items["name"].iloc[promoted],  # mid-popular: in few lists, so it has a reach to raise
        promote_concept="Western",
        audiences=["Horror"],
        filter_users=15,
        filter_max_share=0.15,
        hidden_tags=0.0,  # every tag seen: calibration and evaluation read the same tags
    )
    folds = sae_folds(split, SAE_TRAIN)
    studies = run_case_studies(calibrator, data, split, report, settings, folds.report, NEWTON)
    filtering = studies["filtering"]
    assert filtering.subject == "Horror" and filtering.users == 15 and filtering.calibration.reached
    assert filtering.calibration.validation_effect <= 0.15 < filtering.before.effect
    # Calibrated on the validation users, it holds on the report users (within sampling noise).
    assert filtering.calibration.report.effect <= 0.15 + 0.05 < filtering.before.effect
    methods = {(c.source, c.method) for c in filtering.curves}
    assert methods >= {
        ("sae", "suppress its neuron on the user tower"),
        ("sae", "suppress its direction on both towers"),
    }
    assert methods >= {
        ("probe", "suppress the probe's direction on the user tower"),
        ("baseline", "metadata filter (visible tags)"),
        ("reference", "metadata filter (every tag, for reference)"),
    }
    visible_filter = filtering.operating_of("metadata filter (visible tags)")
    assert visible_filter.point.effect == 0.0 and visible_filter.hidden_removed == 0  # nothing hidden: it removes all
    popularity = studies["popularity"]
    assert popularity.details["mean_percentile_after"] > popularity.details["mean_percentile_before"]
    assert popularity.calibration.report.effect > popularity.before.effect
    assert popularity.operating[0].source == "sae"
    assert [(o.source, o.method) for o in popularity.operating[1:]] == [
        ("baseline", "popularity penalty"),
        ("baseline", "smooth xQuAD"),
    ]
    for matched in popularity.operating[1:]:  # read on their curves at the SAE's long-tail share
        assert matched.point.effect == pytest.approx(popularity.calibration.report.effect)
    popsteer = next(
        c for c in popularity.curves if c.method == "suppress PopSteer's popularity neurons on the item tower"
    )
    assert popsteer.source == "sae" and popsteer.points[-1].effect > popsteer.points[0].effect  # it moves the tail
    promotion, k = studies["promotion"], settings.promote_k
    scores = _outside_scores(steering, folds.report, promoted)
    offset = next(c for c in promotion.curves if c.method == "score offset")
    reach = [((scores > scores[:, [promoted]] + p.strength).sum(1) < k).float().mean().item() for p in offset.points]
    assert promotion.details["outside_users"] == len(scores) > 0
    assert promotion.before.outside == pytest.approx(reach[0]) and 0 < reach[0] < reach[-1] == 1.0
    assert [p.outside for p in offset.points] == pytest.approx(reach)  # the offset's reach outside, as counted here
    assert all(p.outside is not None for c in promotion.curves for p in c.points)  # spill-over traced everywhere
    sae, score_offset = (spill(promotion, promotion.operating_from(source)) for source in ("sae", "baseline"))
    assert 0 < sae < score_offset, (sae, score_offset)  # the page's claim: less spill-over at the same reach


def _outside_scores(steering, report_users: np.ndarray, item: int) -> torch.Tensor:
    """The masked scores of the report users outside the Horror audience who have not seen `item`, found here:
    those whose most frequent concept over their training items is not Horror (or who have none)."""
    steerer, calibrator, _report, data, _truth, split = steering
    matrix, names = data.concept_matrix()
    indptr, seen = split.train_csr()
    histories = [seen[indptr[u] : indptr[u + 1]] for u in report_users]
    counts = np.stack([matrix[history].sum(0) for history in histories])
    outside = (counts.argmax(1) != names.index("Horror")) | (counts.max(1) == 0)
    outside &= np.array([item not in history for history in histories])
    users = torch.as_tensor(report_users[outside])
    return calibrator.mask(steerer.scores(users), users)


def test_a_baseline_added_to_a_spec_is_traced_read_at_the_operating_point_and_judged(steering):
    _steerer, calibrator, report, data, _truth, split = steering
    folds = sae_folds(split, SAE_TRAIN)
    settings = CaseStudyConfig(popularity_towers=["item"])
    study = Study(calibrator, data, split, report, torch.as_tensor(folds.report), settings, NEWTON)

    def tail_boost(context: LongTail, base):  # one function: score + gamma on every long-tail item
        return ItemShift(base, context.long_tail.float(), "gamma")

    spec = dataclasses.replace(
        POPULARITY, baselines=(*POPULARITY.baselines, Baseline("long-tail boost", tail_boost, (0.0, 0.5, 2.0, 8.0)))
    )  # ... and one entry
    result = spec.result(study)
    curve = next(c for c in result.curves if c.method == "long-tail boost")
    assert curve.source == "baseline" and curve.parameter == "gamma" and len(curve.points) == 4
    assert curve.points[0] == dataclasses.replace(result.before, strength=0.0)  # gamma 0: the model's own lists
    shares = [p.effect for p in curve.points]
    assert shares == sorted(shares) and shares[-1] > shares[0]  # more of the tail the more it is boosted
    point = result.operating_of("long-tail boost")
    assert point is not None and point.source == "baseline"
    assert point.point.effect == pytest.approx(result.calibration.report.effect)  # read at the SAE's share
    assert "long-tail boost" in pool([(0, result)])
