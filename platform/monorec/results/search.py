"""What the loss-weight search reports: each trial's epochs, the best trial, and the Pareto front."""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from monorec.results.runs import SAERun


@dataclasses.dataclass(frozen=True)
class RegisteredModel:
    name: str
    version: str
    alias: str


@dataclasses.dataclass(frozen=True)
class TuneRun:
    """`jobs/tune_sae.py`: the best trial's search scores, its full evaluation and its registry entry."""

    objective: float
    monosemanticity: float
    fidelity: float
    params: dict[str, Any]
    sae: SAERun
    registered: RegisteredModel | None = None


@dataclasses.dataclass(frozen=True)
class TrialReport:
    """One epoch of one search trial, as Ray Tune and MLflow see it.

    `monosemanticity` is the objective's term, `ms` or `purity` as `metric` says; both are
    reported whichever it is, so that a front chosen on one can be read with the other.
    """

    epoch: int
    objective: float
    monosemanticity: float
    fidelity: float
    dead_ratio: float
    loss: float
    metric: Literal["ms", "purity"]
    ms: float  # MS over all neurons, dead ones at 0
    purity: float  # mean over genres of the best neuron's purity@10


@dataclasses.dataclass(frozen=True)
class FrontPoint:
    """One trial of the search's validation Pareto front, measured again on the report users.

    `validation` is the trial's last report, the scores the front was chosen on; the rest is
    the SAE of its last checkpoint (`checkpoint`) on the report users, which chose nothing:
    the paper's truncated RBO and Kendall tau of ranks, MS, and how many genres have a neuron
    of purity@10 at least `ParetoFront.pure_at`.
    """

    trial: str
    checkpoint: str
    params: dict[str, Any]
    validation: TrialReport
    rbo_truncated: float
    kendall_tau_ranks: float
    ms: float
    pure_genres: int


@dataclasses.dataclass(frozen=True)
class ParetoFront:
    """`pareto.json` of `jobs/tune_sae.py`: the feasible trials no other beats on both validation scores.

    `fidelity` and `monosemanticity` name the objective's terms the front is drawn on (the
    search's `tune.fidelity`, `tune.monosemanticity`); `report_users` and `paper_depth` say
    where and at what depth the points' report measures were taken.
    """

    fidelity: Literal["extrapolated", "truncated"]
    monosemanticity: Literal["ms", "purity"]
    report_users: int
    paper_depth: int
    genres: int
    pure_at: float
    points: list[FrontPoint]
