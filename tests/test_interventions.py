"""Steering on the planted dataset: edits act on the named concept and never touch stored state."""

import numpy as np
import pytest
import torch
from sae_fixtures import planted, trained_sae

from monorec.errors import UnknownIdError
from monorec.interventions import Intervention, Steerer, filtering, promotion
from monorec.sae import reconstructed_scorer


@pytest.fixture(scope="module")
def steering():
    data, truth, split, model = planted()
    sae, _, report = trained_sae()
    return Steerer(model, sae, report.labels, data.item_ids), report, data, truth, split


def test_no_edit_equals_the_reconstructed_scores_exactly(steering):
    steerer, *_ = steering
    users = torch.arange(50)
    assert torch.equal(steerer.scores(users), reconstructed_scorer(steerer.sae, steerer.recommender)(users))


def test_suppressing_a_genre_neuron_lowers_that_genre_in_the_top10(steering):
    steerer, report, _data, truth, split = steering
    genre = truth.genre_names.index("Horror")
    fans = torch.as_tensor(np.flatnonzero(truth.user_genres[:, genre]))
    horror_items = torch.as_tensor(truth.item_genres[:, genre])
    by_label = filtering(steerer, split, fans, "Horror", horror_items, "Horror", k=10)  # every Horror neuron
    assert by_label.share_after < by_label.share_before - 0.15
    assert by_label.collateral_rbo > 0.3
    purest = filtering(steerer, split, fans, report.mono.concepts["Horror"].neuron, horror_items, "Horror", k=10)
    assert purest.share_after < purest.share_before


def test_promoting_an_item_lifts_it_for_users_of_other_genres(steering):
    """Raising a niche Western item's Horror neurons brings it to Horror fans who do not like Westerns.

    (Raising its own Western neurons would push it away from them: those neurons' directions
    point away from non-fans, so promotion is done through the audience's concept.)
    """
    steerer, _report, data, truth, split = steering
    western, horror = truth.genre_names.index("Western"), truth.genre_names.index("Horror")
    only_western = np.flatnonzero(truth.item_genres[:, western] & (truth.item_genres.sum(1) == 1))
    item = int(only_western[np.argmin(data.items["popularity"].to_numpy()[only_western])])
    audience = torch.as_tensor(np.flatnonzero(truth.user_genres[:, horror] & ~truth.user_genres[:, western]))
    effect = promotion(steerer, split, audience, item, "Horror", "Horror", "a Western", ["Horror"], k=30)
    assert effect.median_rank_after < 0.5 * effect.median_rank_before
    assert effect.in_top_after > effect.in_top_before + 0.2
    assert effect.collateral_rbo > 0.5


def test_edits_address_neurons_by_label_and_never_change_stored_codes(steering):
    steerer, report, *_ = steering
    stored = steerer.user_codes.codes.clone(), steerer.item_codes.codes.clone()
    users = torch.arange(20)
    horror = report.labels["Horror"]
    assert len(horror) >= 1 and report.mono.concepts["Horror"].neuron in report.neurons["neuron"].tolist()
    by_label = steerer.scores(
        users, [Intervention("user", "Horror", "scale", 0.5), Intervention("item", "Horror", "add", 1.0, (3, 4))]
    )
    by_id = steerer.scores(
        users,
        [Intervention("user", n, "scale", 0.5) for n in horror]
        + [Intervention("item", n, "add", 1.0, (3, 4)) for n in horror],
    )
    assert torch.equal(by_label, by_id) and not torch.equal(by_id, steerer.scores(users))
    assert torch.equal(stored[0], steerer.user_codes.codes) and torch.equal(stored[1], steerer.item_codes.codes)
    with pytest.raises(UnknownIdError, match="unknown neuron label 'Polka'"):
        steerer.scores(users, [Intervention("user", "Polka", "suppress")])
    with pytest.raises(UnknownIdError, match=r"the SAE has neurons 0..23"):
        steerer.neurons(99)


def test_operations_by_hand():
    from monorec.interventions import apply_op

    codes = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    for op, value, expected in [
        ("suppress", 0, [0, 0]),
        ("set", 5, [5, 5]),
        ("scale", 0.5, [1, 2]),
        ("add", -3, [0, 1]),
    ]:
        edited = codes.clone()
        apply_op(edited, [1], op, value)
        assert edited[:, 1].tolist() == expected and edited[:, 0].tolist() == [1.0, 3.0]


def test_invalid_interventions_fail_before_any_scoring(steering):
    from monorec.errors import InvalidRequestError

    steerer, *_ = steering
    with pytest.raises(InvalidRequestError, match="an item intervention needs item_ids"):
        Intervention("item", "Horror", "add", 1.0)
    with pytest.raises(InvalidRequestError, match="finite number"):
        Intervention("user", "Horror", "set", float("inf"))
    with pytest.raises(UnknownIdError, match="unknown item_id '999999'"):
        steerer.check([Intervention("item", "Horror", "add", 1.0, ("999999",))])
