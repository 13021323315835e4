"""Promotion: one item into the lists of an audience whose taste is elsewhere (docs/method.md §5).

Boost, on the item's own code, its concept's neuron, its audience's concept neurons or its
audience's concept directions, until the item is in the top-`promote_k` of at least
`promote_min_reach` of the audience (validation users whose most frequent concept is one of
`audiences`). Collateral is 1 by construction (only the promoted item moves), so the harm that
tells the methods apart is the spill-over: the rise of the item's reach among the report users
outside the audience. The score offset (the same delta for everyone) is read at the SAE's
in-audience reach and its spill-over set beside the SAE's.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from monorec.case_studies.context import BOOST_GRID, Candidate, Study, baseline_curve, curve, sae_operating, steer
from monorec.case_studies.spec import Baseline, Bound, LessSpill, Matching, StudySpec
from monorec.interventions.calibration import dominant_concepts
from monorec.interventions.controls import Control, Scorer, score_offset
from monorec.interventions.effects import Lists, at_effect, item_reach
from monorec.interventions.steering import Intervention
from monorec.interventions.targets import Target
from monorec.results import Curve, Operating, StudyResult

OFFSETS = (0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0)
OFFSET = "score offset"


@dataclasses.dataclass(frozen=True)
class Promoted:
    """The item promoted (its index) in a catalogue of `n_items`."""

    item: int
    n_items: int


def offset(promoted: Promoted, base: Scorer) -> Control:
    return score_offset(base, promoted.item, promoted.n_items)


def promotion(spec: StudySpec, study: Study) -> StudyResult | None:
    settings, data = study.settings, study.data
    if settings.promote_concept not in study.report.mono.concepts:
        return None
    matrix, names = data.concept_matrix()
    carriers = np.flatnonzero(matrix[:, names.index(settings.promote_concept)])
    named = np.flatnonzero(data.items["name"].to_numpy() == settings.promote_item)
    item = int(named[0]) if len(named) else int(carriers[np.argmax(data.items["popularity"].to_numpy()[carriers])])
    item_id = study.steerer.item_ids[item]
    audiences = tuple(a for a in settings.audiences if a in names)
    k = settings.promote_k
    untouched = torch.ones(data.n_items, dtype=torch.bool, device=study.report_users.device)
    untouched[item] = False

    def eligible(users: torch.Tensor, inside: bool) -> Lists:
        """The users who have not seen the item, in the audience (`inside`) or outside it."""
        dominant = dominant_concepts(*study.split.train_csr(), users.cpu().numpy(), matrix)
        lists = study.lists(users, item_reach(item, k), untouched, k)
        wanted = np.isin(dominant, [names.index(a) for a in audiences]) if audiences else np.ones(len(users), bool)
        wanted = wanted if inside else ~wanted
        keep = torch.as_tensor(wanted, device=users.device) & torch.isfinite(lists.before[:, item])
        return lists.subset(torch.nonzero(keep).squeeze(1))

    def boost(**address: object) -> Intervention:
        return Intervention(op="boost", tower="item", item_ids=(item_id,), **address)

    concepts, labels = study.report.mono.concepts, study.report.labels
    theirs = [a if a in labels else concepts[a].neuron for a in audiences if a in labels or a in concepts]
    phrase = " and ".join(audiences)
    candidates = [
        Candidate(
            f"boost its {settings.promote_concept} neuron",
            [boost(neuron=concepts[settings.promote_concept].neuron)],
            BOOST_GRID,
        ),
        *([Candidate(f"boost its {phrase} neurons", [boost(neuron=n) for n in theirs], BOOST_GRID)] if theirs else []),
        *(
            [Candidate(f"boost its {phrase} directions", [boost(concept=a) for a in audiences], BOOST_GRID)]
            if audiences
            else []
        ),
    ]
    target = Target("item_reach", k, at_least=settings.promote_min_reach, item_id=item_id, audience=audiences)
    report, outside = eligible(study.report_users, True), eligible(study.report_users, False)
    validation = eligible(study.calibrator.validation_users, True)
    result = steer(study, spec, target, candidates, validation, report)
    chosen = candidates[result.chosen or 0]
    strength = result.calibration.report.strength
    after = study.scores(report.users, chosen.at(strength))
    spill = outside.measure(study.scores(outside.users, chosen.at(strength)), strength).effect
    promoted = Promoted(item, data.n_items)
    references = [
        _with_outside(baseline_curve(baseline, promoted, report), baseline_curve(baseline, promoted, outside))
        for baseline in spec.baselines
    ]
    traced = [
        _with_outside(c, curve(study, outside, candidate, "sae")) for c, candidate in zip(result.curves, candidates)
    ]
    calibrated = dataclasses.replace(result.calibration.report, outside=spill)
    matched = [(reference, at_effect(reference, calibrated.effect)) for reference in references]
    ranks = {"before": _median_rank(report.before, item), "after": _median_rank(after, item)}
    return dataclasses.replace(
        result,
        subject=f"{data.items['name'].iloc[item]} ({settings.promote_concept}) to {', '.join(audiences) or 'everyone'}",
        before=dataclasses.replace(result.before, outside=outside.measure(outside.before, 0.0).effect),
        calibration=dataclasses.replace(result.calibration, report=calibrated),
        curves=[*traced, *references],
        operating=[
            sae_operating(result, calibrated),
            *(Operating(curve.method, curve.source, point) for curve, point in matched if point is not None),
        ],
        details={f"median_rank_{when}": rank for when, rank in ranks.items()}
        | {"outside_users": float(len(outside.users))},
    )


def _with_outside(audience: Curve, outside: Curve) -> Curve:
    """The audience's curve with each point's effect on the users outside it (the spill-over's source)."""
    points = [dataclasses.replace(p, outside=o.effect) for p, o in zip(audience.points, outside.points)]
    return dataclasses.replace(audience, points=points)


def _median_rank(scores: torch.Tensor, item: int) -> float:
    return float((1 + (scores > scores[:, item : item + 1]).sum(1)).float().median())


PROMOTION = StudySpec(
    name="promotion",
    measure="item_reach",
    measure_label="audience with the item",
    effect_label="reach",
    lower_is_better=False,
    chosen_by="collateral",
    harm="spill",
    targets=(Bound("reach"), LessSpill(OFFSET, OFFSET)),
    matching=Matching(harm=True),
    run=promotion,
    baselines=(Baseline(OFFSET, offset, OFFSETS),),
)
