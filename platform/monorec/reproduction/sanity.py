"""The random-SAE check (docs/method.md §4): do SAEs with a matrix frozen at random match the trained one?"""

from __future__ import annotations

import numpy as np

from monorec.case_studies.filtering import FILTERING, MIN_COLLATERAL
from monorec.reproduction.format import model_of, stat, table
from monorec.reproduction.prose import fill
from monorec.reproduction.records import PURE, AblationCell, SAERecord, genres_found

TRAINED = "untied_trained"  # configs/ablation.yaml's trained arm of the random-SAE check, the reference
MS_MATCH, GENRE_MATCH = 0.05, 1.0  # a frozen arm "matches" within these of the trained one
HEADER = (
    *("model", "arm", "seeds", f"genres at p@10 >= {PURE}", "MS", "RBO truncated", "Horror share"),
    *("collateral RBO", "filtering met"),
)


def sanity_section(cells: dict[str, AblationCell]) -> str:
    rows, verdicts = [], []
    for cell, ablation in cells.items():
        names = sorted(ablation.named("sanity"), key=lambda n: (n != TRAINED, n))
        arms = {n: ablation.arm(n) for n in names}
        for name, records in arms.items():
            filtering = [f for r in records if (f := r.run.case_studies.get(FILTERING.name)) is not None]
            met = sum(not FILTERING.misses(f) for f in filtering)  # section 6's targets, by the study's own rules
            before, after = (
                stat([f.before.effect for f in filtering]),
                stat([f.calibration.report.effect for f in filtering]),
            )
            rows.append(
                [
                    *(model_of(cell), name, ", ".join(str(r.seed) for r in records)),
                    stat([genres_found(r) for r in records], 1),
                    stat([r.run.mono.ms for r in records]),
                    stat([r.run.fidelity.rbo_truncated for r in records]),
                    f"{before} -> {after}",
                    stat([f.calibration.report.collateral_rbo for f in filtering]),
                    f"{met}/{len(records)}",
                ]
            )
        verdicts.append(_verdict(cell, arms))
    if not rows:
        return ""
    return fill("sanity", min_collateral=f"{MIN_COLLATERAL:g}", table=table(HEADER, rows), verdicts="\n".join(verdicts))


def _verdict(cell: str, arms: dict[str, list[SAERecord]]) -> str:
    trained = arms.get(TRAINED)
    if not trained:
        return ""
    scores = {name: _scores(records) for name, records in arms.items()}
    genres, ms, met = scores[TRAINED]
    matching = [
        name
        for name, (arm_genres, arm_ms, arm_met) in scores.items()
        if name != TRAINED and arm_genres >= genres - GENRE_MATCH and arm_ms >= ms - MS_MATCH and arm_met >= met
    ]
    rule = (
        f"genres at p@10 >= {PURE} within {GENRE_MATCH:g}, MS within {MS_MATCH:g}, Horror filtering's targets of "
        "section 6 met as often"
    )
    rbo = {name: float(np.mean([r.run.fidelity.rbo_truncated for r in records])) for name, records in arms.items()}
    filtered = {
        name: [r.run.case_studies[FILTERING.name].calibration.report for r in records] for name, records in arms.items()
    }
    share = {name: float(np.mean([point.effect for point in points])) for name, points in filtered.items()}
    collateral = {name: float(np.mean([point.collateral_rbo for point in points])) for name, points in filtered.items()}
    nothing_met = all(arm_met == 0 for _, _, arm_met in scores.values())
    unmet = " No arm, trained or frozen, meets section 6's Horror filtering targets on any seed." if nothing_met else ""
    if matching:
        each = lambda values: ", ".join(f"{name} {values[name]:.2f}" for name in matching)  # noqa: E731
        names, verb = " and ".join(matching), "match" if len(matching) > 1 else "matches"
        claim = (  # with no seed meeting the targets, "met as often" holds for every arm and decides nothing
            f"{names} {verb} the trained SAE on genres at p@10 >= {PURE} (within {GENRE_MATCH:g}) and MS (within "
            f"{MS_MATCH:g}) only: no arm, trained or frozen, meets section 6's Horror filtering targets on any seed, "
            "so that test separates none of them."
            if nothing_met
            else f"**{names} {verb} the trained SAE** ({rule}): on these measures a dictionary left at random does as "
            "well as a trained one."
        )
        return (
            f"{model_of(cell)}: {claim} Not on fidelity (truncated RBO {each(rbo)} against the trained SAE's "
            f"{rbo[TRAINED]:.2f}). Horror filtering leaves a share of {each(share)} at collateral RBO "
            f"{each(collateral)}, against the trained SAE's {share[TRAINED]:.2f} at {collateral[TRAINED]:.2f}."
        )
    return (
        f"{model_of(cell)}: no frozen arm matches the trained SAE ({rule}): training the dictionary does work "
        f"here.{unmet}"
    )


def _scores(records: list[SAERecord]) -> tuple[float, float, int]:
    """Mean genres found, mean MS, and how many seeds met section 6's Horror filtering targets."""
    met = sum(
        not FILTERING.misses(r.run.case_studies[FILTERING.name])
        for r in records
        if FILTERING.name in r.run.case_studies
    )
    return float(np.mean([genres_found(r) for r in records])), float(np.mean([r.run.mono.ms for r in records])), met
