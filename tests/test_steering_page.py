"""The page's steering verdicts: each target fails for the right reason, and SAE-free wins are named."""

from monorec.reproduction.steering import Method, _beats_the_sae, verdict
from monorec.results import Calibration, Operating, Steered, StudyResult


def _study(measure: str, before: Steered, after: Steered, bound: float, operating: list[Operating]) -> StudyResult:
    return StudyResult(
        "x",
        [1],
        "SAE edit",
        "user",
        50,
        10,
        measure,
        before,
        Calibration(bound, 1.0, bound, after),
        [],
        operating=operating,
    )


def test_hidden_tag_filtering_must_also_beat_the_visible_tag_filter():
    before, after = Steered(0, 0.5, 1.0, 0.1), Steered(1.0, 0.08, 0.7, 0.1)
    visible = Operating("baseline: metadata filter (visible tags)", Steered(1e9, 0.2, 1.0, 0.1))
    assert verdict("filtering", _study("concept_share", before, after, 0.1, [visible])) == []
    leaves_less = Operating(visible.method, Steered(1e9, 0.05, 1.0, 0.1))
    missed = verdict("filtering", _study("concept_share", before, after, 0.1, [leaves_less]))
    assert missed == ["share not below the visible-tag filter's 0.05"]
    too_costly = Steered(1.0, 0.08, 0.5, 0.1)
    assert verdict("filtering", _study("concept_share", before, too_costly, 0.1, [visible])) == [
        "collateral RBO 0.50 < 0.6"
    ]


def test_promotion_must_spill_less_than_the_score_offset_at_the_same_reach():
    before = Steered(0, 0.02, 1.0, 0.3, outside=0.17)
    after = Steered(1.0, 0.7, 1.0, 0.3, outside=0.24)
    offset = Operating("baseline: score offset", Steered(3.0, 0.7, 1.0, 0.3, outside=0.9))
    sae = Operating("SAE: boost", after)
    assert verdict("promotion", _study("item_reach", before, after, 0.5, [sae, offset])) == []
    worse = Operating("SAE: boost", Steered(1.0, 0.7, 1.0, 0.3, outside=0.95))
    missed = verdict("promotion", _study("item_reach", before, worse.point, 0.5, [worse, offset]))
    assert missed == ["spill-over +0.78 not below the score offset's +0.73"]


def test_popularity_needs_95_percent_of_the_penalty_ndcg_at_the_same_share():
    before, after = Steered(0, 0.09, 1.0, 0.163), Steered(3.0, 0.18, 0.8, 0.143)
    penalty = Operating("baseline: popularity penalty", Steered(0.2, 0.18, 0.9, 0.152))
    missed = verdict("popularity", _study("long_tail_share", before, after, 0.18, [penalty]))
    assert missed == ["NDCG@10 0.143 < 95% of the penalty's 0.152 at that share"]
    close = Operating(penalty.method, Steered(0.2, 0.18, 0.9, 0.150))
    assert verdict("popularity", _study("long_tail_share", before, after, 0.18, [close])) == []


def test_a_method_beats_the_sae_only_by_the_studys_own_measure():
    sae = Method("SAE (calibrated)", [0, 1], [0.08, 0.1], [0.7, 0.7], [0.14, 0.14], [None], [90.0])
    filter_ = Method(
        "metadata filter (visible tags and the probe's)", [0, 1], [0.03, 0.03], [0.98, 0.98], [0.12, 0.12], [None], []
    )
    costly = Method("probe (calibrated)", [0, 1], [0.05, 0.05], [0.5, 0.5], [0.15, 0.15], [None], [])
    assert _beats_the_sae("filtering", sae, filter_) and not _beats_the_sae("filtering", sae, costly)
    assert _beats_the_sae("popularity", sae, costly) and not _beats_the_sae("popularity", sae, filter_)
