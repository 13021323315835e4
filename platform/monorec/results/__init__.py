"""Typed results of every run: what `metrics.json` holds, what MLflow logs, what the page reads.

Each job returns one of these dataclasses (`runs`: a recommender's or an SAE's run; `studies`:
what a case study reports; `search`: the loss-weight search). `to_json` writes it (the shape of
`metrics.json`), `from_json` reads it back with its types checked (older files through the one
`legacy` mapping), and `mlflow_metrics` names every number for MLflow by its path in the
dataclass (`fidelity/rbo`, `mono/concepts/Horror/purity/10`), so no caller ever rebuilds a key
string from a setting.
"""

from monorec.results.files import from_json, mlflow_metrics, mlflow_series, read_result, to_json, write_result
from monorec.results.runs import (
    ConceptNeuron,
    DatasetSummary,
    DecadeNeuron,
    Fidelity,
    Monosemanticity,
    PopularityNeuron,
    PrefixGroup,
    PrefixLabel,
    Ranking,
    RankingMetrics,
    RecommenderRun,
    SAERun,
    TieShares,
    TrainingSummary,
)
from monorec.results.search import FrontPoint, ParetoFront, RegisteredModel, TrialReport, TuneRun
from monorec.results.studies import Calibration, CaseStudies, Curve, Operating, Source, Steered, StudyResult

__all__ = [
    "Calibration",
    "CaseStudies",
    "ConceptNeuron",
    "Curve",
    "DatasetSummary",
    "DecadeNeuron",
    "Fidelity",
    "FrontPoint",
    "Monosemanticity",
    "Operating",
    "ParetoFront",
    "PopularityNeuron",
    "PrefixGroup",
    "PrefixLabel",
    "Ranking",
    "RankingMetrics",
    "RecommenderRun",
    "RegisteredModel",
    "SAERun",
    "Source",
    "Steered",
    "StudyResult",
    "TieShares",
    "TrainingSummary",
    "TrialReport",
    "TuneRun",
    "from_json",
    "mlflow_metrics",
    "mlflow_series",
    "read_result",
    "to_json",
    "write_result",
]
