"""What a case study declares, so that the page, the verdicts and the service read it instead of its name.

A `StudySpec` states the study's measure and the direction of its bound, the harm axis every
method is compared on, the targets its calibrated SAE edit must meet (`Rule`s), the rule by which
another method matches or beats that edit (`Matching`), the SAE-free methods it measures
(`Baseline`s: adding one is a function plus one entry here), and from these which method is best
for the goal. Nothing here needs torch: the rules read typed results only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Literal, Protocol

import numpy as np

from monorec.interventions.targets import PER_LIST, slots, within
from monorec.results import Operating, Source, StudyResult

Harm = Literal["collateral", "ndcg", "spill"]
CALIBRATED = {"sae": "SAE (calibrated)", "probe": "probe (calibrated)"}  # seeds' calibrated choices pool by source
UNREACHED = "no strength reaches the target on the validation users"


@dataclasses.dataclass(frozen=True)
class HarmAxis:
    """What an edit costs, as the page names it: `label` in sentences, `figure` on a plot's axis."""

    label: str
    figure: str
    digits: int
    higher_is_better: bool


HARMS: dict[Harm, HarmAxis] = {
    "collateral": HarmAxis("collateral", "collateral RBO", 2, True),
    "ndcg": HarmAxis("NDCG@10", "NDCG@10", 3, True),
    "spill": HarmAxis("spill-over", "spill-over (reach outside the audience, rise)", 2, False),
}


def spill(study: StudyResult, point: Operating | None) -> float | None:
    """Promotion's spill-over: the rise of the item's reach outside the audience at this point."""
    if point is None or point.point.outside is None or study.before.outside is None:
        return None
    return point.point.outside - study.before.outside


@dataclasses.dataclass(frozen=True)
class MethodPoints:
    """One method's operating points over the seeds of one study of one cell."""

    name: str
    source: Source
    seeds: list[int]
    effect: list[float]
    collateral: list[float]
    ndcg: list[float]
    spill: list[float | None]  # promotion
    hidden_removed: list[float]  # filtering with hidden tags

    @property
    def reference_only(self) -> bool:
        """A method shown for reference, which no one steering a real catalogue has (the every-tag filter)."""
        return self.source == "reference"

    def harm(self, axis: Harm) -> list[float | None]:
        return {"collateral": self.collateral, "ndcg": self.ndcg, "spill": self.spill}[axis]


def pool(studies: list[tuple[int, StudyResult]]) -> dict[str, MethodPoints]:
    """Every method's operating points by name; the SAE's and the probe's calibrated choices pooled over seeds."""
    entries: dict[str, list[tuple[int, StudyResult, Operating]]] = {}
    for seed, study in studies:
        for point in study.operating:
            entries.setdefault(CALIBRATED.get(point.source, point.method), []).append((seed, study, point))
    return {
        name: MethodPoints(
            name,
            found[0][2].source,
            [seed for seed, _, _ in found],
            [o.point.effect for _, _, o in found],
            [o.point.collateral_rbo for _, _, o in found],
            [o.point.ndcg for _, _, o in found],
            [spill(study, o) for _, study, o in found],
            [float(o.hidden_removed) for _, _, o in found if o.hidden_removed is not None],
        )
        for name, found in entries.items()
    }


def mean(values: list[float | None]) -> float:
    """The mean of the values present (NaN for none, which every comparison fails)."""
    present = [v for v in values if v is not None]
    return float(np.mean(present)) if present else float("nan")


class Rule(Protocol):
    """One target a study's calibrated edit must meet on the report users: what it misses, or None."""

    def miss(self, spec: StudySpec, study: StudyResult) -> str | None: ...


@dataclasses.dataclass(frozen=True)
class Bound:
    """The measure on the report users within the calibration's bound (`label`: "share", "reach"), compared as
    counts of list slots, as calibration compares it (`interventions.targets.within`)."""

    label: str

    def miss(self, spec: StudySpec, study: StudyResult) -> str | None:
        after, bound = study.calibration.report.effect, study.calibration.bound
        total = slots(study.measure, study.users, study.k)
        if within(after, bound, spec.lower_is_better, total):
            return None
        counted = f"{round(after * total)} of {total} {'lists' if study.measure in PER_LIST else 'slots'}"
        return f"{self.label} {after:.2f} ({counted}) {'>' if spec.lower_is_better else '<'} {bound:.2f}"


@dataclasses.dataclass(frozen=True)
class MinCollateral:
    """The rest of the lists kept: collateral RBO at least `floor`."""

    floor: float

    def miss(self, spec: StudySpec, study: StudyResult) -> str | None:
        collateral = study.calibration.report.collateral_rbo
        return f"collateral RBO {collateral:.2f} < {self.floor:g}" if collateral < self.floor else None


@dataclasses.dataclass(frozen=True)
class BelowMethod:
    """A lower measure than another method leaves (the visible-tag filter's share)."""

    method: str
    label: str

    def miss(self, spec: StudySpec, study: StudyResult) -> str | None:
        reference, after = study.operating_of(self.method), study.calibration.report.effect
        if reference is None or after < reference.point.effect:
            return None
        return f"share not below the {self.label}'s {reference.point.effect:.2f}"


@dataclasses.dataclass(frozen=True)
class LessSpill:
    """Less spill-over than another method at the same reach (the score offset's)."""

    method: str
    label: str

    def miss(self, spec: StudySpec, study: StudyResult) -> str | None:
        ours, theirs = spill(study, study.operating_from("sae")), spill(study, study.operating_of(self.method))
        if ours is None or theirs is None or ours < theirs:
            return None
        return f"spill-over {ours:+.2f} not below the {self.label}'s {theirs:+.2f}"


@dataclasses.dataclass(frozen=True)
class Multiplied:
    """The measure multiplied by at least `factor` ("doubled" at 2)."""

    factor: float
    label: str

    def miss(self, spec: StudySpec, study: StudyResult) -> str | None:
        after, before = study.calibration.report.effect, study.before.effect
        if after >= self.factor * before:
            return None
        return f"{self.label} {after:.2f} < {self.factor:g} × {before:.2f}"


@dataclasses.dataclass(frozen=True)
class NdcgShare:
    """NDCG@10 at least `share` of another method's at the same measure (the popularity penalty's)."""

    method: str
    share: float
    label: str

    def miss(self, spec: StudySpec, study: StudyResult) -> str | None:
        reference, after = study.operating_of(self.method), study.calibration.report
        if reference is None:
            return f"the {self.label} does not reach that share"
        if after.ndcg >= self.share * reference.point.ndcg:
            return None
        share, theirs = f"{self.share:.0%}", f"{reference.point.ndcg:.3f}"
        return f"NDCG@10 {after.ndcg:.3f} < {share} of the {self.label}'s {theirs} at that share"


@dataclasses.dataclass(frozen=True)
class Matching:
    """When another method matches or beats the SAE's edit, on means over seeds at the operating points.

    effect: its measure no worse than the SAE's; harm: its harm no worse (and known); floor: its
    harm at least this (filtering: collateral RBO).
    """

    effect: bool = False
    harm: bool = False
    floor: float | None = None


@dataclasses.dataclass(frozen=True)
class Baseline:
    """An SAE-free method of a study: `build(context, base)` makes its control over the unedited scores `base`
    (the context is what the study computed first: tags, the promoted item), swept over `grid`."""

    name: str
    build: Callable[[Any, Callable], Any]
    grid: tuple[float, ...]
    source: Source = "baseline"


@dataclasses.dataclass(frozen=True)
class StudySpec:
    """One case study, declared (module docstring). `run(spec, study)` gives its result, or None where the data
    cannot run it (`result`: the spec's own run).

    measure / measure_label: the target's measure and how the page names it; effect_label: the
    measure in a sentence ("share"); lower_is_better: the direction of its bound; chosen_by: the harm
    that picks a candidate on the validation users (`case_studies.context.preference`); harm: the
    axis methods are compared on.
    """

    name: str
    measure: str
    measure_label: str
    effect_label: str
    lower_is_better: bool
    chosen_by: Literal["collateral", "ndcg"]
    harm: Harm
    targets: tuple[Rule, ...]
    matching: Matching
    run: Callable[[StudySpec, Any], StudyResult | None]
    baselines: tuple[Baseline, ...] = ()

    def result(self, study: Any) -> StudyResult | None:
        """This study on `study` (a `case_studies.context.Study`), with this spec's targets and baselines."""
        return self.run(self, study)

    @property
    def axis(self) -> HarmAxis:
        return HARMS[self.harm]

    def better(self, value: float, than: float) -> bool:
        """`value` strictly better than `than` in the measure's direction."""
        return value < than if self.lower_is_better else value > than

    def misses(self, study: StudyResult) -> list[str]:
        """Which of its targets the calibrated result misses on the report users (empty: all met)."""
        reached = [] if study.calibration.reached else [UNREACHED]
        return reached + [miss for rule in self.targets if (miss := rule.miss(self, study)) is not None]

    def beats(self, sae: MethodPoints, other: MethodPoints) -> bool:
        """Does `other` do the study's job at least as well as the SAE's edit (`Matching`)?"""
        rule, harm = self.matching, self.harm
        if rule.effect and self.better(mean(sae.effect), mean(other.effect)):
            return False
        if rule.floor is not None and not mean(other.harm(harm)) >= rule.floor:
            return False
        if rule.harm:
            ours, theirs = mean(sae.harm(harm)), mean(other.harm(harm))
            return theirs >= ours if self.axis.higher_is_better else theirs <= ours
        return rule.effect

    def best(self, methods: dict[str, MethodPoints]) -> str:
        """The method best for the goal: within the harm floor, then the best measure (where the rule compares
        it), then the least harm. Reference-only methods never count."""
        rule, axis = self.matching, self.axis

        def rank(method: MethodPoints) -> tuple[bool, float, float]:
            effect, harm = mean(method.effect), mean(method.harm(self.harm))
            within = rule.floor is None or harm >= rule.floor
            goodness = (-effect if self.lower_is_better else effect) if rule.effect else 0.0
            return within, goodness, harm if axis.higher_is_better else -harm

        return max((m for m in methods.values() if not m.reference_only), key=rank).name
