"""Typed results of every run: what `metrics.json` holds, what MLflow logs, what the page reads.

Each job returns one of these dataclasses. `to_json` writes it (the shape of `metrics.json`),
`from_json` reads it back with its types checked, and `mlflow_metrics` names every number for
MLflow by its path in the dataclass (`fidelity/rbo`, `mono/concepts/Horror/purity/10`), so no caller
ever rebuilds a key string such as `in_top30_before` from a setting.
"""

from __future__ import annotations

import dataclasses
import math
import re
from pathlib import Path
from typing import Any, Literal, TypeVar

from monorec.errors import DataError
from monorec.storage import read_json, write_json
from monorec.typed import from_dict, to_dict

T = TypeVar("T")
MLFLOW_UNSAFE = re.compile(r"[^\w./\- :]")  # MLflow allows letters, digits, _ - . / space and :


@dataclasses.dataclass(frozen=True)
class RankingMetrics:
    """Held-out positives ranked among candidates: HR@k, NDCG@k, MRR, MPR (docs/method.md §4)."""

    k: int
    ndcg: float
    hr: float
    mrr: float
    mpr: float


@dataclasses.dataclass(frozen=True)
class Ranking:
    """Full ranking (against every unseen item) and sampled ranking (against sampled negatives)."""

    full: RankingMetrics
    sampled: RankingMetrics


@dataclasses.dataclass(frozen=True)
class DatasetSummary:
    name: str
    n_users: int
    n_items: int
    n_interactions: int
    n_test_users: int
    checksum: str
    n_evaluated_users: int | None = None  # users ranked (eval.max_users); None: a result written before it


@dataclasses.dataclass(frozen=True)
class TrainingSummary:
    epochs: int
    seconds: float
    samples_per_second: float
    final_loss: float
    device: str


@dataclasses.dataclass(frozen=True)
class RecommenderRun:
    """`jobs/train_recommender.py`: the model's ranking quality next to the popularity baseline."""

    dataset: DatasetSummary
    model: Ranking
    popularity: Ranking
    training: TrainingSummary
    config_hash: str


@dataclasses.dataclass(frozen=True)
class Fidelity:
    """How well the reconstruction keeps the recommender's lists and quality (docs/method.md §4).

    Measured on `users` report users, held out of SAE training. The paper's measures
    (truncated RBO, Kendall tau of rank positions) at `paper_depth`; ours (extrapolated RBO,
    Kendall tau-b of scores) at `depth`; ranking quality of the held-out positives with the
    original and the reconstructed embeddings.
    """

    users: int
    paper_depth: int
    rbo_truncated: float
    kendall_tau_ranks: float
    depth: int
    rbo_extrapolated: float
    kendall_tau_scores: float
    original: RankingMetrics
    reconstructed: RankingMetrics


@dataclasses.dataclass(frozen=True)
class ConceptNeuron:
    """A concept's best neuron and its purity@K for each K."""

    neuron: int
    purity: dict[int, float]


@dataclasses.dataclass(frozen=True)
class PopularityNeuron:
    """The neuron whose top items are the most popular: mean popularity percentile at each K."""

    neuron: int
    percentile: dict[int, float]


@dataclasses.dataclass(frozen=True)
class DecadeNeuron:
    """A decade's best neuron: the share of its top-k items from that decade."""

    neuron: int
    k: int
    share: float


@dataclasses.dataclass(frozen=True)
class PrefixLabel:
    neuron: int
    label: str
    purity: float  # purity@k of the neuron for its own label


@dataclasses.dataclass(frozen=True)
class PrefixGroup:
    """The neurons one Matryoshka prefix adds (first..last), with their labels and purity@k."""

    first: int
    last: int
    k: int
    labels: list[PrefixLabel]
    labelled_share: float
    mean_purity: float | None


@dataclasses.dataclass(frozen=True)
class Monosemanticity:
    """What the SAE's neurons mean: MS, dead ratio, each concept's best neuron (`concepts`)."""

    ms: float
    dead_ratio: float
    n_labelled: int
    concepts: dict[str, ConceptNeuron]
    popularity_neuron: PopularityNeuron
    decade_neurons: dict[str, DecadeNeuron]
    prefixes: list[PrefixGroup] = dataclasses.field(default_factory=list)  # Matryoshka SAEs only
    # Mean over neurons of the share of users and items each fires on, and of its mean activation
    # over users and over items (averaged): the quantity KL pulls towards rho (None: older records).
    firing_rate: float | None = None
    mean_activation: float | None = None


@dataclasses.dataclass(frozen=True)
class Steered:
    """One intervention at one strength on a study's users (`interventions.effects.Lists.measure`)."""

    strength: float
    effect: float
    collateral_rbo: float
    ndcg: float
    outside: float | None = None  # promotion: the effect on the report users outside the audience (spill-over)


@dataclasses.dataclass(frozen=True)
class Curve:
    """Dose-response: the study's effect, collateral and NDCG along one method's parameter."""

    method: str
    parameter: str
    points: list[Steered]
    tower: str | None = None  # the SAE's curves: which tower the edit applies to; None for baselines


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
    audience's top-k lists, of `hidden_before` there without any edit.
    """

    method: str
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


@dataclasses.dataclass(frozen=True)
class CaseStudies:
    """The three interventions of docs/method.md §5 (None where the data cannot run one, or not asked)."""

    filtering: StudyResult | None = None
    promotion: StudyResult | None = None
    popularity: StudyResult | None = None


@dataclasses.dataclass(frozen=True)
class SAERun:
    """`jobs/train_sae.py`: fidelity, monosemanticity and steering of one SAE."""

    fidelity: Fidelity
    mono: Monosemanticity
    steering: CaseStudies
    training: TrainingSummary
    config_hash: str


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


def to_json(run: Any) -> dict:
    """The `metrics.json` form of a result."""
    return to_dict(run)


def from_json(cls: type[T], values: dict, source: str = "metrics") -> T:
    """Read a result back, with a clear error naming the key of anything missing or mistyped."""
    return from_dict(cls, values, error=DataError, noun=f"{source} key")


def write_result(run: Any, path: Path) -> None:
    write_json(path, to_json(run))


def read_result(cls: type[T], path: Path) -> T:
    if not path.is_file():
        raise DataError(f"no results file at {path}")
    return from_json(cls, read_json(path), str(path))


def mlflow_metrics(run: Any, prefix: str = "") -> dict[str, float]:
    """Every finite number of a result, named by its path: `fidelity/rbo`, `mono/concepts/Horror/purity/10`.

    Strings, lists and None are not metrics and are left out; booleans are not numbers here.
    """
    flat: dict[str, float] = {}
    items = dataclasses.asdict(run).items() if dataclasses.is_dataclass(run) else run.items()
    for key, value in items:
        name = MLFLOW_UNSAFE.sub("", f"{prefix}{key}")
        if isinstance(value, dict):
            flat.update(mlflow_metrics(value, f"{name}/"))
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            flat[name] = float(value)
    return flat


def mlflow_series(run: SAERun) -> dict[str, list[float]]:
    """Every dose-response curve as metric histories (one step per point), for MLflow's charts.

    `steering/filtering/SAE: suppress on the both tower/effect` holds the curve's effects in order;
    `.../strength` the parameter values they were measured at.
    """
    series: dict[str, list[float]] = {}
    for name in ("filtering", "promotion", "popularity"):
        study = getattr(run.steering, name)
        for curve in study.curves if study is not None else []:
            prefix = MLFLOW_UNSAFE.sub("", f"steering/{name}/{curve.method}")
            for field in ("strength", "effect", "collateral_rbo", "ndcg"):
                series[f"{prefix}/{field}"] = [getattr(point, field) for point in curve.points]
    return series
