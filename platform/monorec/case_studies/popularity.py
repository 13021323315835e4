"""Popularity control: more of the long tail in every user's list, at the least cost in accuracy.

Suppress the popularity neuron, the popularity direction (head against long-tail items,
docs/method.md §5) or PopSteer's popularity neurons (`interventions.popsteer`: head-only against
long-tail-only synthetic users), on each configured tower, for every user, until the long-tail
share of the top-10 is `popularity_factor` times its own; the candidate keeping the most NDCG@10
on the validation users is kept, and every candidate's curve is on the page. Set beside it on the
report users: the popularity penalty and smooth xQuAD (`interventions.controls`), each read at the
SAE's long-tail share.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from monorec.case_studies.context import TOP_K, Study, baseline_curve, sae_operating, steer, suppressions
from monorec.case_studies.spec import Baseline, Matching, Multiplied, NdcgShare, StudySpec
from monorec.interventions.controls import Control, Scorer, SmoothXQuAD, popularity_penalty
from monorec.interventions.directions import POPULARITY as POPULARITY_DIRECTION
from monorec.interventions.directions import head_items
from monorec.interventions.effects import at_effect, long_tail_share
from monorec.interventions.popsteer import POPSTEER, popsteer_direction
from monorec.interventions.steering import Intervention
from monorec.interventions.targets import Target
from monorec.results import Operating, StudyResult

PENALTY_GAMMAS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
XQUAD_LAMBDAS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
GAIN = 2  # the page's target: the long-tail share at least doubled ...
NDCG_SHARE = 0.95  # ... at NDCG@10 at least 95% of the popularity penalty's at the same share
PENALTY = "popularity penalty"


@dataclasses.dataclass(frozen=True)
class LongTail:
    """What the SAE-free methods read: the study, and which items are in the long tail."""

    study: Study
    long_tail: torch.Tensor


def penalty(context: LongTail, base: Scorer) -> Control:
    counts = torch.as_tensor(context.study.split.item_counts(), device=context.long_tail.device)
    return popularity_penalty(base, counts)


def smooth_xquad(context: LongTail, base: Scorer) -> Control:
    return SmoothXQuAD(base, context.long_tail, *context.study.split.seen_csr(), k=TOP_K)


def with_popsteer(study: Study) -> Study:
    """The study where edits may name PopSteer's direction (`POPSTEER`), from the real users' history lengths."""
    indptr, _ = study.split.history_csr()
    head = head_items(study.calibrator.popularity_percentile)
    steerer = study.steerer
    found = popsteer_direction(steerer.recommender, steerer.sae, study.fold_in, np.diff(indptr), head)
    return study.with_direction(POPSTEER, found)


def popularity(spec: StudySpec, study: Study) -> StudyResult:
    study = with_popsteer(study)
    settings, calibrator = study.settings, study.calibrator
    device = study.report_users.device
    percentile = torch.tensor(calibrator.popularity_percentile, dtype=torch.float32, device=device)
    long_tail = torch.as_tensor(~head_items(calibrator.popularity_percentile), device=device)
    share = long_tail_share(long_tail, TOP_K)
    validation = study.lists(calibrator.validation_users, share, long_tail, TOP_K)
    report = study.lists(study.report_users, share, long_tail, TOP_K)
    bound = min(1.0, settings.popularity_factor * share(validation.before).mean().item())
    towers = settings.popularity_towers
    candidates = [
        *suppressions("the popularity neuron", Intervention(study.report.mono.popularity_neuron.neuron), towers),
        *suppressions("the popularity direction", Intervention(concept=POPULARITY_DIRECTION), towers),
        *suppressions("PopSteer's popularity neurons", Intervention(concept=POPSTEER), towers),
    ]
    target = Target("long_tail_share", TOP_K, at_least=bound)
    result = steer(study, spec, target, candidates, validation, report)
    after = study.scores(report.users, candidates[result.chosen or 0].at(result.calibration.report.strength))

    def mean_percentile(scores: torch.Tensor) -> float:
        return percentile[scores.topk(TOP_K, dim=1).indices].mean().item()

    context = LongTail(study, long_tail)
    references = [baseline_curve(baseline, context, report) for baseline in spec.baselines]
    calibrated = result.calibration.report
    matched = [(reference, at_effect(reference, calibrated.effect)) for reference in references]
    percentiles = {"before": mean_percentile(report.before), "after": mean_percentile(after)}
    return dataclasses.replace(
        result,
        subject="popularity",
        curves=[*result.curves, *references],
        operating=[
            sae_operating(result, calibrated),
            *(Operating(curve.method, curve.source, point) for curve, point in matched if point is not None),
        ],
        details={f"mean_percentile_{when}": p for when, p in percentiles.items()},
    )


POPULARITY = StudySpec(
    name="popularity",
    measure="long_tail_share",
    measure_label="long-tail share",
    effect_label="long-tail share",
    lower_is_better=False,
    chosen_by="ndcg",
    harm="ndcg",
    targets=(Multiplied(GAIN, "long-tail share"), NdcgShare(PENALTY, NDCG_SHARE, "penalty")),
    matching=Matching(harm=True),
    run=popularity,
    baselines=(
        Baseline(PENALTY, penalty, PENALTY_GAMMAS),
        Baseline("smooth xQuAD", smooth_xquad, XQUAD_LAMBDAS),
    ),
)
