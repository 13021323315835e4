"""What the page's case-study figures plot: each seed's calibrated dose-response, and every method's frontier."""

from __future__ import annotations

from monorec.case_studies import SPECS, StudySpec
from monorec.reproduction.case_studies import seeded, studied_records
from monorec.reproduction.records import Runs
from monorec.results import Curve

SOURCE_NAMES = {"sae": "SAE", "probe": "probe", "baseline": "baseline", "reference": "reference"}


def frontier_panels(runs: Runs) -> dict[str, tuple[str, dict[str, list[tuple[float, float]]]]]:
    """Per (cell, study): each seed's calibrated SAE curve, the probe's calibrated curve and the SAE-free
    methods' (one seed's: they do not depend on the SAE), as (effect, harm) points."""
    panels: dict = {}
    for cell, results in runs.items():
        for spec in SPECS.values():
            studies = seeded(results, spec)
            if not studies:
                continue
            methods = {
                f"SAE seed {seed}: {study.chosen_curve.method}": _harm(spec, study.chosen_curve)
                for seed, study in studies
            }
            first = studies[0][1]  # the probe and the baselines read the recommender alone: the same for every seed
            probe = first.operating_from("probe")
            shared = [
                c
                for c in first.curves
                if c.source in ("baseline", "reference")
                or (probe is not None and c.source == "probe" and c.method == probe.method)
            ]
            methods |= {f"{SOURCE_NAMES[c.source]}: {c.method}": _harm(spec, c) for c in shared}
            panels[f"{cell}: {spec.name}"] = (spec.axis.figure, methods)
    return panels


def dose_panels(runs: Runs) -> dict[str, dict[str, list[tuple[float, float, float, float]]]]:
    """Per (cell, study): each seed's calibrated SAE curve as (strength, effect, collateral, NDCG)."""
    panels: dict = {}
    for cell, results in runs.items():
        for record in studied_records(results):
            for name, study in record.run.case_studies.items():
                points = [(p.strength, p.effect, p.collateral_rbo, p.ndcg) for p in study.chosen_curve.points]
                panels.setdefault(f"{cell}: {name}", {})[f"seed {record.seed}"] = points
    return panels


def _harm(spec: StudySpec, curve: Curve) -> list[tuple[float, float]]:
    """(effect, harm) along a curve; spill-over as the rise of the reach outside the audience over its first point."""
    if spec.harm == "spill":
        start = curve.points[0].outside or 0.0
        return [(p.effect, (p.outside or 0.0) - start) for p in curve.points]
    if spec.harm == "ndcg":
        return [(p.effect, p.ndcg) for p in curve.points]
    return [(p.effect, p.collateral_rbo) for p in curve.points]
