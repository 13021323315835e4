"""What a case study reports: every method's dose-response curve and operating point, typed by its source.

A method is named plainly ("suppress its neuron on the user tower", "popularity penalty") and
its `source` says what it is: an edit of the SAE's codes (`sae`), of a linear probe's
direction (`probe`), an SAE-free method a user could deploy (`baseline`), or a method shown
for reference only, since it needs what no real catalogue has (`reference`: the filter that
knows every hidden tag). Pages, verdicts and MLflow read the source, never the name.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from monorec.errors import DataError

Source = Literal["sae", "probe", "baseline", "reference"]


@dataclasses.dataclass(frozen=True)
class Steered:
    """One method at one strength on a study's users (`interventions.effects.Lists.measure`)."""

    strength: float
    effect: float
    collateral_rbo: float
    ndcg: float
    outside: float | None = None  # promotion: the effect on the report users outside the audience (spill-over)


@dataclasses.dataclass(frozen=True)
class Curve:
    """Dose-response: the study's effect, collateral and NDCG along one method's parameter."""

    method: str
    source: Source
    parameter: str
    points: list[Steered]
    tower: str | None = None  # the SAE's and the probe's curves: which tower the edit applies to


@dataclasses.dataclass(frozen=True)
class Calibration:
    """The smallest strength meeting the target on the validation users, measured on the report users.

    `strength` is None when no strength up to the largest tried meets it; `report` is then the
    result at that largest strength, so the page can say how far the model gets.
    """

    bound: float
    strength: float | None
    validation_effect: float
    report: Steered

    @property
    def reached(self) -> bool:
        return self.strength is not None


@dataclasses.dataclass(frozen=True)
class Operating:
    """One method at the study's stated operating point on the report users, SAE or not.

    `hidden_removed` (filtering with hidden tags): how many hidden-tag items it took out of the
    audience's top-k lists.
    """

    method: str
    source: Source
    point: Steered
    hidden_removed: int | None = None


@dataclasses.dataclass(frozen=True)
class StudyResult:
    """One case study on the report users: before, the calibrated intervention, and the curves.

    `details` holds the study's own extra measures (promotion: median ranks and the users
    outside the audience; popularity: mean popularity percentile, before and after; filtering:
    what was hidden and what the probe inferred). `chosen` is the index in `curves` of the
    calibrated intervention's own dose-response (None in results written before monorec recorded
    it). `operating` sets every method, SAE or not, at the study's stated operating point.
    """

    subject: str
    neurons: list[int]
    intervention: str
    tower: str
    users: int
    k: int
    measure: str
    before: Steered
    calibration: Calibration
    curves: list[Curve]
    details: dict[str, float] = dataclasses.field(default_factory=dict)
    chosen: int | None = None
    operating: list[Operating] = dataclasses.field(default_factory=list)

    @property
    def chosen_curve(self) -> Curve:
        if self.chosen is None:
            raise DataError(
                f"{self.subject}: this result predates the record of its chosen intervention: rerun its cell"
            )
        return self.curves[self.chosen]

    def curves_from(self, *sources: Source) -> list[Curve]:
        return [curve for curve in self.curves if curve.source in sources]

    def operating_of(self, method: str) -> Operating | None:
        """The operating point of the method of this name (None: the study did not reach it)."""
        return next((point for point in self.operating if point.method == method), None)

    def operating_from(self, source: Source) -> Operating | None:
        """The first operating point of this source (the SAE's calibrated edit, the probe's)."""
        return next((point for point in self.operating if point.source == source), None)


CaseStudies = dict[str, StudyResult]  # study name -> its result, for the studies that ran
