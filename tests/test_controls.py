"""The SAE-free controls on lists small enough to work out by hand: each expected list is worked in the comments.

No model, no training: a control's base is any function of the users returning their masked
scores (seen items at -inf), here fixed tables.
"""

import dataclasses
import math

import numpy as np
import pytest
import torch

from monorec.case_studies.context import baseline_curve
from monorec.case_studies.promotion import OFFSET, PROMOTION, Promoted, _with_outside, offset
from monorec.case_studies.spec import Baseline, LessSpill, spill
from monorec.data.split import Split
from monorec.interventions.controls import SmoothXQuAD, metadata_filter, popularity_penalty, score_offset
from monorec.interventions.effects import Lists, at_effect, item_reach
from monorec.results import Calibration, Operating, Steered, StudyResult

NEG_INF = float("-inf")


def _base(table: list[list[float]]):
    """A control's base: row u of `table` is user u's masked scores."""
    scores = torch.tensor(table)
    return lambda users: scores[users]


def _order(scores: torch.Tensor) -> list[list[int]]:
    """Each row's finite items, best first."""
    return [[i for i in row.argsort(descending=True).tolist() if math.isfinite(row[i])] for row in scores]


def test_the_popularity_penalty_subtracts_gamma_log_counts_and_reorders_the_list():
    # Items 0..3 scored 4, 3, 2, 1; item 4 is seen (masked). Training counts 99, 9, 0, 0 (and 50):
    # log(1 + count) = log 100, log 10, 0, 0.
    penalty = popularity_penalty(_base([[4.0, 3.0, 2.0, 1.0, NEG_INF]]), torch.tensor([99, 9, 0, 0, 50]))
    user = torch.tensor([0])
    assert penalty.parameter == "gamma"
    assert _order(penalty.scores(user, 0.0)) == [[0, 1, 2, 3]]  # gamma 0: the model's own list
    # gamma 0.5: 4 - 2.30 = 1.70, 3 - 1.15 = 1.85, 2, 1: the two head items fall below item 2.
    assert _order(penalty.scores(user, 0.5)) == [[2, 1, 0, 3]]
    # gamma 1: 4 - 4.61 = -0.61, 3 - 2.30 = 0.70, 2, 1: the most popular item falls to the bottom.
    scores = penalty.scores(user, 1.0)
    assert _order(scores) == [[2, 3, 1, 0]]
    assert scores[0, :4].tolist() == pytest.approx([4 - math.log(100), 3 - math.log(10), 2.0, 1.0], abs=1e-6)
    assert scores[0, 4] == NEG_INF  # a seen item stays out


def test_the_metadata_filter_lowers_tagged_items_by_gamma_until_they_leave_the_list():
    # Items scored 2, 1.5, 1, 0.2; items 0 and 3 carry the concept.
    tagged = torch.tensor([True, False, False, True])
    concept_filter = metadata_filter(_base([[2.0, 1.5, 1.0, 0.2]]), tagged)
    user = torch.tensor([0])
    assert _order(concept_filter.scores(user, 0.75)) == [[1, 0, 2, 3]]  # 1.25 < 1.5: item 0 drops one place
    scores = concept_filter.scores(user, 1.5)  # 0.5 < 1: item 0 drops below every untagged item
    assert _order(scores) == [[1, 2, 0, 3]]
    assert scores[0].tolist() == pytest.approx([0.5, 1.5, 1.0, -1.3], abs=1e-6)
    assert _order(concept_filter.scores(user, 1e9))[0][:2] == [1, 2]  # at a huge gamma: every tagged item last


def test_the_score_offset_lifts_one_item_to_the_rank_its_delta_buys():
    # Item 3 is below 3, 2 and 1 for user 0, below 2 and 1 for user 1 (who saw item 0), below 3 and 2 for user 2.
    lifted = score_offset(_base([[3.0, 2.0, 1.0, 0.5], [NEG_INF, 1.0, 2.0, 0.1], [0.0, 3.0, 2.0, 1.0]]), 3, 4)
    users = torch.tensor([0, 1, 2])

    def ranks(delta: float) -> list[int]:
        scores = lifted.scores(users, delta)
        return (1 + (scores > scores[:, 3:4]).sum(1)).tolist()  # 1 + the items scored strictly higher

    assert lifted.parameter == "offset"
    assert ranks(0.0) == [4, 3, 3]
    assert ranks(0.75) == [3, 3, 3]  # 1.25, 0.85, 1.75: each still below two items
    assert ranks(1.8) == [2, 2, 2]  # 2.3, 1.9, 2.8: each below one
    assert ranks(3.0) == [1, 1, 1]
    untouched = lifted.scores(users, 3.0)[:, :3]
    assert torch.equal(untouched, lifted.scores(users, 0.0)[:, :3])  # only the offset item moves
    assert item_reach(3, 2)(lifted.scores(users, 1.8)).tolist() == [1.0, 1.0, 1.0]  # in every top-2


# Smooth xQuAD by hand: 6 items, 0-2 in the head, 3-5 in the long tail; top k = 3 of all 6 candidates.
# value(i) = (1 - lambda) r(i) + lambda P(g(i)|u) (1 - |S ∩ g(i)| / |S|), r = scores min-max scaled over
# the finite candidates, S = the items placed (the coverage term 1 while S is empty).
XQUAD_SCORES = [
    [1.0, 0.9, 0.8, 0.6, 0.3, 0.0],  # user 0: r = the scores; trained on 0, 3, 4, 5: P(tail) = 0.75
    [0.6, NEG_INF, 1.0, 0.0, NEG_INF, 0.5],  # user 1: saw 1 and 4 (masked): P(tail) = 0.5, r over 0, 2, 3, 5
]
XQUAD_TRAIN = (np.array([0, 4, 6]), np.array([0, 3, 4, 5, 1, 4]))  # (indptr, items)
XQUAD_LISTS = {
    0.0: [[0, 1, 2], [2, 0, 5]],  # lambda 0: the score order
    # user 0: position 1: 0.5 r + 0.5 P: item 3 0.3 + 0.375 = 0.675 beats item 0 0.5 + 0.125 = 0.625;
    #   position 2 (tail covered): item 0 0.625 beats item 1 0.575, tail items get 0.5 r only;
    #   position 3 (coverage 1/2 each): item 1 0.45 + 0.0625 beats item 2 0.4625 and item 4 0.15 + 0.1875.
    # user 1 (r: item 2 1, item 0 0.6, item 5 0.5, item 3 0): item 2 0.5 + 0.25; then, head covered,
    #   item 5 0.25 + 0.25 beats item 0 0.3 + 0; then item 0 0.3 + 0.125 beats item 3 0 + 0.125.
    0.5: [[3, 0, 1], [2, 5, 0]],
    # user 0 at 0.1 r + 0.9 P: item 3 0.06 + 0.675; item 0 0.1 + 0.225 beats item 1 0.315;
    #   then item 4 0.03 + 0.3375 beats item 1 0.09 + 0.1125. User 1 as at 0.5.
    0.9: [[3, 0, 4], [2, 5, 0]],
}


@pytest.mark.parametrize("strength", list(XQUAD_LISTS))
def test_smooth_xquad_fills_each_position_greedily_by_relevance_and_group_coverage(strength):
    tail = torch.tensor([False, False, False, True, True, True])
    xquad = SmoothXQuAD(_base(XQUAD_SCORES), tail, *XQUAD_TRAIN, k=3)
    users = torch.tensor([0, 1])
    assert xquad.parameter == "lambda"
    assert xquad.lists(users, strength).tolist() == XQUAD_LISTS[strength]
    # As scores: the re-ranked list above every other item, whose order is kept; seen items stay out.
    expected = [
        top + [i for i in order if i not in top]
        for top, order in zip(XQUAD_LISTS[strength], _order(torch.tensor(XQUAD_SCORES)))
    ]
    assert _order(xquad.scores(users, strength)) == expected


def test_the_spill_over_is_the_rise_of_the_promoted_items_reach_outside_the_audience():
    # Item 4 promoted into top-2 lists by the score offset (the same delta for every user).
    # Scores of the items above it, and its own: the delta it needs is the gap to the 2nd best, exceeded.
    scores = [
        [3.0, 2.0, 1.0, 0.0, 1.5],  # audience: needs > 0.5
        [3.0, 2.5, 0.0, 0.0, 1.0],  # audience: needs > 1.5
        [2.0, 1.0, 0.0, 0.0, 1.2],  # outside: in the top-2 already
        [3.0, 2.0, 0.0, 0.0, 1.8],  # outside: needs > 0.2
        [4.0, 3.0, 0.0, 0.0, 1.5],  # outside: needs > 1.5
        [5.0, 4.0, 0.0, 0.0, 0.0],  # outside: needs > 4
    ]
    split = Split(6, 5, np.zeros(0, int), np.zeros(0, int), np.arange(6), np.zeros((6, 1), int), np.zeros((6, 0), int))
    untouched = torch.tensor([True, True, True, True, False])

    def lists(users: list[int]) -> Lists:
        return Lists(torch.tensor(users), torch.tensor(scores)[users], item_reach(4, 2), untouched, 2, split)

    audience, outside = lists([0, 1]), lists([2, 3, 4, 5])
    method = Baseline(OFFSET, offset, (0.0, 1.0, 2.0))
    traced = _with_outside(*(baseline_curve(method, Promoted(4, 5), users) for users in (audience, outside)))
    # delta 0: audience 0 of 2, outside 1 of 4; delta 1: 1 of 2 and 2 of 4; delta 2: 2 of 2 and 3 of 4.
    assert [(p.effect, p.outside) for p in traced.points] == [(0.0, 0.25), (0.5, 0.5), (1.0, 0.75)]
    before = outside.measure(outside.before, 0.0)
    assert before.effect == 0.25
    read = Operating(OFFSET, "baseline", at_effect(traced, 1.0))  # read where the SAE's edit reaches everyone
    sae = Steered(2.0, 1.0, 1.0, 1.0, outside=0.5)  # an edit reaching the whole audience and 2 of 4 outside
    study = StudyResult(
        subject="item 4",
        neurons=[],
        intervention="boost its neuron",
        tower="item",
        users=2,
        k=2,
        measure="item_reach",
        before=Steered(0.0, 0.0, 1.0, 1.0, outside=before.effect),
        calibration=Calibration(1.0, 2.0, 1.0, sae),
        curves=[traced],
        operating=[Operating("boost its neuron", "sae", sae), read],
    )
    assert spill(study, read) == 0.5  # two more of the four outside users
    assert spill(study, study.operating[0]) == 0.25  # the SAE's edit, at the same reach: one more
    assert LessSpill(OFFSET, OFFSET).miss(PROMOTION, study) is None  # +0.25 below the offset's +0.50
    everyone = Operating("boost its neuron", "sae", dataclasses.replace(sae, outside=1.0))  # all 4 outside
    missed = LessSpill(OFFSET, OFFSET).miss(PROMOTION, dataclasses.replace(study, operating=[everyone, read]))
    assert missed == "spill-over +0.75 not below the score offset's +0.50"
