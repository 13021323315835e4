"""What every case study shares: its context, its candidate SAE edits, choosing one on the validation users, its curves.

A study has a few candidate edits (a tower, a neuron or a concept direction). Each candidate's
strength is calibrated on the validation users to the study's target; the candidate that meets
it with the least harm there (collateral RBO, or NDCG@10 for popularity) is the study's
intervention, measured on the report users, where every candidate's dose-response curve is
traced too, and every SAE-free method's (docs/method.md §5).
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import torch

from monorec.case_studies.spec import Baseline, StudySpec
from monorec.config import CaseStudyConfig
from monorec.data import InteractionData, Split
from monorec.interpret import NeuronReport
from monorec.interventions.calibration import SEARCH_CEILING, Calibrated, Calibrator
from monorec.interventions.controls import Edit
from monorec.interventions.directions import Direction
from monorec.interventions.effects import EffectFn, Lists
from monorec.interventions.steering import Dictionary, Intervention, Steerer
from monorec.interventions.targets import Target
from monorec.recommenders.fold_in import FoldIn
from monorec.results import Calibration, Curve, Operating, Source, Steered, StudyResult

SUPPRESS_GRID = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, 8.0, 12.0, 16.0)
BOOST_GRID = (0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0)
TOP_K = 10
WHERE = {"user": "the users' codes", "item": "the items' codes", "both": "users' and items' codes"}
TOWER = {"user": "the user tower", "item": "the item tower", "both": "both towers"}


@dataclasses.dataclass(frozen=True)
class Study:
    """What every case study reads: the calibrator (validation users), the data, the report users,
    and how the model places a user from a history (`fold_in`: PopSteer's synthetic users)."""

    calibrator: Calibrator
    data: InteractionData
    split: Split
    report: NeuronReport
    report_users: torch.Tensor
    settings: CaseStudyConfig
    fold_in: FoldIn

    @property
    def steerer(self) -> Steerer:
        return self.calibrator.steerer

    def scores(self, users: torch.Tensor, interventions: list[Intervention] | None = None) -> torch.Tensor:
        """The users' masked scores after `interventions` (the model's own without)."""
        return self.calibrator.mask(self.steerer.scores(users, interventions or []), users)

    def lists(self, users: torch.Tensor, effect: EffectFn, untouched: torch.Tensor, k: int) -> Lists:
        return Lists(users, self.scores(users), effect, untouched, k, self.split)

    def with_direction(self, name: str, found: Direction) -> Study:
        """The same study, where edits may also name the direction `found` by `name`."""
        steerer = self.steerer.with_direction(name, found)
        return dataclasses.replace(self, calibrator=dataclasses.replace(self.calibrator, steerer=steerer, cache={}))

    def seeing(self, items: pd.DataFrame, dictionary: Dictionary | None = None) -> Study:
        """The same study where labels, directions and calibration read only `items`' tags.

        With `dictionary`, steering edits that dictionary's codes instead of the SAE's (a probe's
        one direction, addressed as neuron 0; no concept directions, no bias read-out).
        """
        steerer = self.steerer
        if dictionary is None:
            steerer = steerer.seeing(items)
        else:
            steerer = Steerer(steerer.recommender, dictionary, item_ids=steerer.item_ids)
        validation = self.calibrator.validation_users.cpu().numpy()
        calibrator = Calibrator.build(steerer, *self.split.seen_csr(), validation, items)
        return dataclasses.replace(self, calibrator=calibrator)


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One way to steer toward a study's target: edits that share one calibrated strength."""

    name: str
    edits: list[Intervention]
    grid: tuple[float, ...]

    @property
    def tower(self) -> str:
        return self.edits[0].tower

    @property
    def largest(self) -> float:
        return SEARCH_CEILING[self.edits[0].op]

    def at(self, strength: float) -> list[Intervention]:
        return [edit.at(strength) for edit in self.edits]

    def control(self, study: Study) -> Edit:
        return Edit(study.steerer, study.calibrator.mask, self.edits)


def suppressions(what: str, edit: Intervention, towers: list[str]) -> list[Candidate]:
    """`edit` (a suppression) on each of `towers`, named "suppress <what> on <tower>"."""
    return [
        Candidate(f"suppress {what} on {TOWER[tower]}", [dataclasses.replace(edit, tower=tower)], SUPPRESS_GRID)
        for tower in towers
    ]


@dataclasses.dataclass(frozen=True)
class Choice:
    """The candidate a study keeps, its calibration on the validation users and the strength applied."""

    index: int
    found: Calibrated
    strength: float


def choose(study: Study, spec: StudySpec, target: Target, candidates: list[Candidate], validation: Lists) -> Choice:
    """Calibrate every candidate on the validation lists and keep the best (`preference`)."""
    trials = []
    for index, candidate in enumerate(candidates):
        found = study.calibrator.calibrate_together(candidate.edits, target, validation.users)
        strength = found.strength if found.strength is not None else candidate.largest
        on_validation = validation.measure(study.scores(validation.users, candidate.at(strength)), strength)
        rank = preference(found.strength is not None, on_validation, target, spec)
        trials.append((rank, Choice(index, found, strength)))
    return max(trials, key=lambda trial: trial[0])[1]


def preference(reached: bool, point: Steered, target: Target, spec: StudySpec) -> tuple:
    """Order candidates: those meeting the target first, then the least harm (`spec.chosen_by`), then the
    furthest effect."""
    effect = -point.effect if target.lower_is_better else point.effect
    return reached, point.ndcg if spec.chosen_by == "ndcg" else point.collateral_rbo, effect


def steer(
    study: Study, spec: StudySpec, target: Target, candidates: list[Candidate], validation: Lists, report: Lists
) -> StudyResult:
    """Choose a candidate on the validation lists; measure it, and trace every candidate, on the report lists."""
    choice = choose(study, spec, target, candidates, validation)
    best = candidates[choice.index]
    neurons = sorted({n for edit in best.edits for n in study.steerer.weighted(edit)[0]})
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
            choice.found.strength,
            choice.found.effect,
            report.measure(study.scores(report.users, best.at(choice.strength)), choice.strength),
        ),
        curves=[curve(study, report, candidate, "sae") for candidate in candidates],
        chosen=choice.index,
    )


def curve(study: Study, lists: Lists, candidate: Candidate, source: Source) -> Curve:
    """A candidate's dose-response along its grid of strengths, on `lists`; `source` is "sae" or "probe"."""
    return Curve(
        candidate.name, source, "strength", lists.trace(candidate.control(study), candidate.grid), candidate.tower
    )


def baseline_curve(baseline: Baseline, context: object, lists: Lists) -> Curve:
    """An SAE-free method's dose-response along its grid, over the lists' unedited scores."""
    control = baseline.build(context, lists.unedited)
    return Curve(baseline.name, baseline.source, control.parameter, lists.trace(control, baseline.grid))


def sae_operating(result: StudyResult, point: Steered) -> Operating:
    """The SAE's calibrated edit at its operating point."""
    return Operating(result.intervention, "sae", point)
