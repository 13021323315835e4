"""Popularity control: more of the long tail in every user's list, at the least cost in accuracy.

Suppress the popularity neuron or the popularity direction (head against long-tail items,
docs/method.md §5), on each configured tower, for every user, until the long-tail share of the
top-10 is `popularity_factor` times its own; the candidate keeping the most NDCG@10 on the
validation users is kept. Set beside it on the report users: the popularity penalty and smooth
xQuAD (`baselines`), each read at the SAE's long-tail share.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from monorec.interventions import baselines
from monorec.interventions.directions import POPULARITY, head_items
from monorec.interventions.effects import at_effect, long_tail_share
from monorec.interventions.steering import Intervention
from monorec.interventions.study import TOP_K, Study, steer, suppressions
from monorec.interventions.targets import Target
from monorec.results import Operating, StudyResult


def popularity(study: Study) -> StudyResult:
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
        *suppressions("the popularity direction", Intervention(concept=POPULARITY), towers),
    ]
    target = Target("long_tail_share", TOP_K, at_least=bound)
    result = steer(study, target, candidates, validation, report, harm="ndcg")
    after = study.scores(report.users, candidates[result.chosen or 0].at(result.calibration.report.strength))

    def mean_percentile(scores: torch.Tensor) -> float:
        return percentile[scores.topk(TOP_K, dim=1).indices].mean().item()

    counts = torch.as_tensor(study.split.item_counts(), device=device)
    indptr, items = study.split.train_csr()
    users = report.users.cpu().numpy()
    tail_affinity = np.array(
        [(~head_items(calibrator.popularity_percentile[items[indptr[u] : indptr[u + 1]]])).mean() for u in users]
    )
    references = [
        baselines.popularity_penalty(report, counts),
        baselines.xquad(report, long_tail, torch.as_tensor(tail_affinity, device=device)),
    ]
    calibrated = result.calibration.report
    matched = [(reference.method, at_effect(reference, calibrated.effect)) for reference in references]
    percentiles = {"before": mean_percentile(report.before), "after": mean_percentile(after)}
    return dataclasses.replace(
        result,
        subject="popularity",
        curves=[*result.curves, *references],
        operating=[
            Operating(f"SAE: {result.intervention}", calibrated),
            *(Operating(method, point) for method, point in matched if point is not None),
        ],
        details={f"mean_percentile_{when}": p for when, p in percentiles.items()},
    )
