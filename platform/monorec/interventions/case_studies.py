"""The three case studies of docs/method.md §5: chosen and calibrated on validation users, reported on report users.

Each study picks its users in both folds the same way and has a few candidate SAE edits (a
tower, or which neurons to raise). Every candidate's strength is calibrated on the validation
users to the study's target; the candidate that meets it with the least harm there (collateral
RBO, or NDCG@10 for popularity) is the study's intervention, measured on the report users.
Every candidate's dose-response curve, and an SAE-free baseline's, is traced on the report users:

    filtering   suppress a concept's best neuron for the users whose top-10 holds most of it;
                target: the concept's share of their top-10 at most `filter_max_share`
    promotion   boost, on one item's code, its concept's neuron or its audience's concept neurons,
                for users whose taste is elsewhere; target: the item in the top-`promote_k` of at
                least `promote_min_reach` of them
    popularity  suppress the popularity neuron for every user;
                target: the long-tail share of the top-10 at least `popularity_factor` times its own
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from monorec.config import CaseStudyConfig
from monorec.data import InteractionData, Split
from monorec.interpret import NeuronReport
from monorec.interventions import baselines
from monorec.interventions.calibration import HEAD_PERCENTILE, MAX_STRENGTH, Calibrator, dominant_concepts
from monorec.interventions.effects import EffectFn, Lists, concept_share, item_reach, long_tail_share
from monorec.interventions.steering import Intervention
from monorec.interventions.targets import Target
from monorec.results import Calibration, CaseStudies, Curve, Steered, StudyResult

SUPPRESS_GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0)
BOOST_GRID = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
FILTER_K = 10
WHERE = {"user": "the users' codes", "item": "the items' codes", "both": "users' and items' codes"}
TOWER = {"user": "the user tower", "item": "the item tower", "both": "both towers"}


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One way to steer toward a study's target: edits that share one calibrated strength."""

    name: str
    edits: list[Intervention]
    grid: tuple[float, ...]

    @property
    def tower(self) -> str:
        return self.edits[0].tower

    def at(self, strength: float) -> list[Intervention]:
        return [edit.at(strength) for edit in self.edits]


@dataclasses.dataclass(frozen=True)
class Study:
    """What every case study reads: the calibrator (validation users), the data, the report users."""

    calibrator: Calibrator
    data: InteractionData
    split: Split
    report: NeuronReport
    report_users: torch.Tensor
    settings: CaseStudyConfig

    def scores(self, users: torch.Tensor, interventions: list[Intervention] | None = None) -> torch.Tensor:
        """The users' masked scores after `interventions` (the model's own without)."""
        return self.calibrator.mask(self.calibrator.steerer.scores(users, interventions or []), users)

    def lists(self, users: torch.Tensor, effect: EffectFn, untouched: torch.Tensor, k: int) -> Lists:
        return Lists(users, self.scores(users), effect, untouched, k, self.split)


def case_studies(
    calibrator: Calibrator,
    data: InteractionData,
    split: Split,
    report: NeuronReport,
    settings: CaseStudyConfig,
    report_users: np.ndarray,
) -> CaseStudies:
    """Filtering, promotion (where the data has the concept) and popularity control, as configured."""
    device = calibrator.validation_users.device
    study = Study(calibrator, data, split, report, torch.as_tensor(report_users, device=device), settings)
    concepts = report.mono.concepts
    return CaseStudies(
        filtering=_filtering(study) if concepts else None,
        promotion=_promotion(study) if settings.promote_concept in concepts else None,
        popularity=_popularity(study),
    )


def _filtering(study: Study) -> StudyResult:
    settings, concepts = study.settings, study.report.mono.concepts
    concept = settings.filter_concept
    if concept not in concepts:
        concept = max(concepts, key=lambda c: concepts[c].purity[min(concepts[c].purity)])
    matrix, names = study.data.concept_matrix()
    concept_items = torch.as_tensor(matrix[:, names.index(concept)], device=study.report_users.device)
    share = concept_share(concept_items, FILTER_K)

    def heaviest(users: torch.Tensor) -> Lists:
        lists = study.lists(users, share, ~concept_items, FILTER_K)
        return lists.subset(share(lists.before).argsort(descending=True)[: settings.filter_users])

    neuron = concepts[concept].neuron
    target = Target("concept_share", FILTER_K, at_most=settings.filter_max_share, concept=concept)
    candidates = [
        Candidate(_tower_phrase(tower), [Intervention(neuron, "suppress", tower=tower)], SUPPRESS_GRID)
        for tower in settings.filter_towers
    ]
    validation, report = heaviest(study.calibrator.validation_users), heaviest(study.report_users)
    result = _steer(study, target, candidates, validation, report, harm="collateral")
    return dataclasses.replace(result, curves=[*result.curves, baselines.metadata_filter(report, concept_items)])


def _promotion(study: Study) -> StudyResult:
    settings, data = study.settings, study.data
    matrix, names = data.concept_matrix()
    carriers = np.flatnonzero(matrix[:, names.index(settings.promote_concept)])
    named = np.flatnonzero(data.items["name"].to_numpy() == settings.promote_item)
    item = int(named[0]) if len(named) else int(carriers[np.argmax(data.items["popularity"].to_numpy()[carriers])])
    item_id = study.calibrator.steerer.item_ids[item]
    audiences = tuple(a for a in settings.audiences if a in names)
    k = settings.promote_k
    untouched = torch.ones(data.n_items, dtype=torch.bool, device=study.report_users.device)
    untouched[item] = False

    def audience(users: torch.Tensor) -> Lists:
        dominant = dominant_concepts(*study.split.train_csr(), users.cpu().numpy(), matrix)
        lists = study.lists(users, item_reach(item, k), untouched, k)
        wanted = np.isin(dominant, [names.index(a) for a in audiences]) if audiences else np.ones(len(users), bool)
        keep = torch.as_tensor(wanted, device=users.device) & torch.isfinite(lists.before[:, item])
        return lists.subset(torch.nonzero(keep).squeeze(1))

    def boost(neuron: int | str) -> Intervention:
        return Intervention(neuron, "boost", tower="item", item_ids=(item_id,))

    concepts, labels = study.report.mono.concepts, study.report.labels
    own = Candidate(
        f"boost its {settings.promote_concept} neuron", [boost(concepts[settings.promote_concept].neuron)], BOOST_GRID
    )
    theirs = [a if a in labels else concepts[a].neuron for a in audiences if a in labels or a in concepts]
    candidates = [own] + (
        [Candidate(f"boost its {' and '.join(audiences)} neurons", [boost(n) for n in theirs], BOOST_GRID)]
        if theirs
        else []
    )
    target = Target("item_reach", k, at_least=settings.promote_min_reach, item_id=item_id, audience=audiences)
    report = audience(study.report_users)
    result = _steer(study, target, candidates, audience(study.calibrator.validation_users), report, harm="collateral")
    after = study.scores(report.users, candidates[result.chosen].at(result.calibration.report.strength))
    ranks = {"before": _median_rank(report.before, item), "after": _median_rank(after, item)}
    subject = f"{data.items['name'].iloc[item]} ({settings.promote_concept}) to {', '.join(audiences) or 'everyone'}"
    return dataclasses.replace(
        result,
        subject=subject,
        curves=[*result.curves, baselines.score_offset(report, item)],
        details={f"median_rank_{when}": rank for when, rank in ranks.items()},
    )


def _popularity(study: Study) -> StudyResult:
    settings, calibrator = study.settings, study.calibrator
    device = study.report_users.device
    percentile = torch.tensor(calibrator.popularity_percentile, dtype=torch.float32, device=device)
    long_tail = percentile >= HEAD_PERCENTILE
    share = long_tail_share(long_tail, FILTER_K)
    validation = study.lists(calibrator.validation_users, share, long_tail, FILTER_K)
    report = study.lists(study.report_users, share, long_tail, FILTER_K)
    bound = min(1.0, settings.popularity_factor * share(validation.before).mean().item())
    neuron = study.report.mono.popularity_neuron.neuron
    candidates = [
        Candidate(_tower_phrase(tower), [Intervention(neuron, "suppress", tower=tower)], SUPPRESS_GRID)
        for tower in settings.popularity_towers
    ]
    result = _steer(
        study, Target("long_tail_share", FILTER_K, at_least=bound), candidates, validation, report, harm="ndcg"
    )
    after = study.scores(report.users, candidates[result.chosen].at(result.calibration.report.strength))

    def mean_percentile(scores: torch.Tensor) -> float:
        return percentile[scores.topk(FILTER_K, dim=1).indices].mean().item()

    counts = torch.as_tensor(study.split.item_counts(), device=device)
    percentiles = {"before": mean_percentile(report.before), "after": mean_percentile(after)}
    return dataclasses.replace(
        result,
        subject="the popularity neuron",
        curves=[*result.curves, baselines.popularity_penalty(report, counts)],
        details={f"mean_percentile_{when}": p for when, p in percentiles.items()},
    )


def _steer(
    study: Study, target: Target, candidates: list[Candidate], validation: Lists, report: Lists, harm: str
) -> StudyResult:
    """Calibrate every candidate on the validation lists, keep the best, measure it on the report lists."""
    trials = []
    for candidate in candidates:
        found = study.calibrator.calibrate_together(candidate.edits, target, validation.users)
        strength = found.strength if found.strength is not None else MAX_STRENGTH[candidate.edits[0].op]
        on_validation = validation.measure(study.scores(validation.users, candidate.at(strength)), strength)
        trials.append((found, on_validation, candidate))
    ranked = [_preference(found.strength is not None, point, target, harm) for found, point, _ in trials]
    chosen = max(range(len(trials)), key=ranked.__getitem__)
    found, _, best = trials[chosen]
    strength = found.strength if found.strength is not None else MAX_STRENGTH[best.edits[0].op]
    neurons = sorted({n for edit in best.edits for n in study.calibrator.steerer.neurons(edit.neuron)})
    where = "the item's code" if best.edits[0].item_ids else WHERE[best.tower]
    return StudyResult(
        subject=target.concept or "",
        neurons=neurons,
        intervention=f"{best.name} ({where})",
        tower=best.tower,
        users=len(report.users),
        k=report.k,
        measure=target.measure,
        before=report.measure(report.before, 0.0),
        calibration=Calibration(
            target.bound,
            found.strength,
            found.effect,
            report.measure(study.scores(report.users, best.at(strength)), strength),
        ),
        curves=[_curve(study, report, candidate) for candidate in candidates],
        chosen=chosen,
    )


def _preference(reached: bool, point: Steered, target: Target, harm: str) -> tuple:
    """Order candidates: those meeting the target first, then the least harm, then the furthest effect."""
    effect = -point.effect if target.lower_is_better else point.effect
    return reached, point.ndcg if harm == "ndcg" else point.collateral_rbo, effect


def _tower_phrase(tower: str) -> str:
    return f"suppress on {TOWER[tower]}"


def _curve(study: Study, lists: Lists, candidate: Candidate) -> Curve:
    """A candidate's dose-response along its grid of strengths, on the report lists."""
    points = [lists.measure(study.scores(lists.users, candidate.at(s)), s) for s in candidate.grid]
    return Curve(f"SAE: {candidate.name}", "strength", points, candidate.tower)


def _median_rank(scores: torch.Tensor, item: int) -> float:
    return float((1 + (scores > scores[:, item : item + 1]).sum(1)).float().median())
