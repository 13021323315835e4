"""The results page's steering section: calibrated interventions, their targets, baselines and curves."""

from __future__ import annotations

import itertools

from monorec.reproduction.format import stat, table
from monorec.reproduction.records import Runs, SAERecord
from monorec.results import Curve, Steered, StudyResult

STUDIES = ("filtering", "promotion", "popularity")
MEASURE_NAMES = {
    "concept_share": "concept share",
    "item_reach": "share with the item",
    "long_tail_share": "long-tail share",
}
COMPARISON_HEADER = ("cell", "study", "baseline", "effect", "SAE collateral / NDCG@10", "baseline collateral / NDCG@10")
BASELINES = {"filtering": "metadata filter", "promotion": "score offset", "popularity": "popularity penalty"}


def studies_of(record: SAERecord) -> dict[str, StudyResult]:
    steering = record.run.steering
    return {name: study for name in STUDIES if (study := getattr(steering, name)) is not None}


def at_effect(curve: Curve, effect: float) -> Steered | None:
    """The curve's point at a given effect, interpolated between the two points that bracket it."""
    points = curve.points
    for first, second in itertools.pairwise(points):
        low, high = sorted((first.effect, second.effect))
        if low <= effect <= high:
            w = 0.0 if high == low else (effect - first.effect) / (second.effect - first.effect)
            mix = [a + w * (b - a) for a, b in zip(_values(first), _values(second))]
            return Steered(*mix)
    return None


def _values(point: Steered) -> tuple[float, float, float, float]:
    return point.strength, point.effect, point.collateral_rbo, point.ndcg


def baseline_curve(name: str, study: StudyResult) -> Curve | None:
    return next((c for c in study.curves if c.method == f"baseline: {BASELINES[name]}"), None)


# The page's targets: `verdict` checks them and the page's prose states them, from these numbers.
FILTER_MIN_COLLATERAL = 0.6  # filtering: collateral RBO at least this
PROMOTION_MIN_COLLATERAL = 0.9  # promotion: collateral RBO at least this
POPULARITY_GAIN = 2  # popularity: the long-tail share multiplied by at least this ("doubled")
POPULARITY_MAX_NDCG_DROP = 0.25  # popularity: NDCG@10 down by at most this share
POPULARITY_BASELINE_NDCG = 0.9  # popularity: NDCG@10 at least this share of the penalty's at the same share


def verdict(name: str, study: StudyResult) -> list[str]:
    """Which of the page's targets this calibrated result misses (empty: all met), on the report users."""
    after, misses = study.calibration.report, []
    if not study.calibration.reached:
        misses.append("no strength reaches the target on the validation users")
    if name == "filtering":
        if after.effect > study.calibration.bound:
            misses.append(f"share {after.effect:.2f} > {study.calibration.bound:.2f}")
        if after.collateral_rbo < FILTER_MIN_COLLATERAL:
            misses.append(f"collateral RBO {after.collateral_rbo:.2f} < {FILTER_MIN_COLLATERAL:g}")
    elif name == "promotion":
        if after.effect < study.calibration.bound:
            misses.append(f"reach {after.effect:.2f} < {study.calibration.bound:.2f}")
        if after.collateral_rbo < PROMOTION_MIN_COLLATERAL:
            misses.append(f"collateral RBO {after.collateral_rbo:.2f} < {PROMOTION_MIN_COLLATERAL:g}")
    else:
        misses += _popularity_misses(study)
    return misses


def _popularity_misses(study: StudyResult) -> list[str]:
    after, before, misses = study.calibration.report, study.before, []
    if after.effect < POPULARITY_GAIN * before.effect:
        misses.append(f"long-tail share {after.effect:.2f} < {_times(POPULARITY_GAIN)} {before.effect:.2f}")
    kept = 1 - POPULARITY_MAX_NDCG_DROP
    if after.ndcg < kept * before.ndcg:
        misses.append(f"NDCG@10 {after.ndcg:.3f} < {kept:.0%} of {before.ndcg:.3f}")
    reference = baseline_curve("popularity", study)
    matched = at_effect(reference, after.effect) if reference else None
    if matched is not None and after.ndcg < POPULARITY_BASELINE_NDCG * matched.ndcg:
        share = f"{POPULARITY_BASELINE_NDCG:.0%}"
        misses.append(f"NDCG@10 {after.ndcg:.3f} < {share} of the baseline's {matched.ndcg:.3f} at that share")
    return misses


def _times(factor: float) -> str:
    return "twice" if factor == 2 else f"{factor:g} times"


TARGETS = (
    "Targets: filtering, the concept's share of the top-k of the users with the most of it at most the bound, "
    f"with collateral RBO ≥ {FILTER_MIN_COLLATERAL:g}; promotion, the item in the top-k of at least the bound's "
    f"share of its audience, with collateral RBO ≥ {PROMOTION_MIN_COLLATERAL:g}; popularity, the long-tail share "
    f"of the top-k {'doubled' if POPULARITY_GAIN == 2 else f'multiplied by {POPULARITY_GAIN:g}'} with NDCG@10 "
    f"down by at most {POPULARITY_MAX_NDCG_DROP:.0%} and within {1 - POPULARITY_BASELINE_NDCG:.0%} of the "
    "popularity-penalty baseline's NDCG at the same share."
)
METHOD = (
    "An intervention edits SAE codes and adds the edit's decoded change to the original embeddings, which "
    "the frozen model scores: with no edit the lists are the model's own, so collateral comes from the edit "
    "alone. suppress(s): z ← (1 − s) z (s > 1 steers away); boost(s): z ← z + s · the neuron's largest "
    "activation; edits apply to the user tower, the item tower or both, and on MF an item edit also moves "
    "the item's bias by the bias's linear read-out from the codes (docs/method.md §5). Each study's strength "
    "is calibrated on the validation users, the smallest meeting its target, and measured on the report "
    "users (mean ± sd over seeds; strength per seed, – where no strength reaches the target). " + TARGETS
)
BASELINES_TEXT = (
    "**Against baselines that need no SAE** (seed 0; each baseline's curve read at the SAE's calibrated "
    "effect). Metadata filtering and the score offset use item metadata or the item's identity and leave "
    "the rest of the list untouched (collateral 1); the popularity penalty subtracts gamma · log(1 + count)."
)
TRIED = (
    "What was tried (every candidate's curve is in the figures). Adding the edit's change to the original "
    "embedding rather than scoring the edited reconstruction (the paper's way): without it the SAE's "
    "reconstruction error alone reshuffles lists before any edit. Strengths beyond removal (s > 1). "
    "Each tower: the study keeps, per seed, the candidate that meets its target with the least harm on the "
    "validation users. Suppressing on both towers at once turns back past s = 1 on MF (the user's and the "
    "items' components both change sign, so their product is restored) but is the only edit NCF's lists "
    "follow: NCF reads a concept mostly from the item side of its MLP, and a user-side edit moves its "
    "lists little. Promotion through the item's own concept (Folk) against its audience's concepts "
    "(Metal, Pop): only the latter's directions point toward the audience. On MF, item edits also move the "
    "item bias through its linear read-out from the codes, since the bias carries popularity the "
    "embeddings do not. Where NCF does not follow any edit, its SAE also reconstructs its lists worst "
    "(section 3): the directions the SAE finds are not the ones its MLP uses."
)
HEADER = (
    *("cell", "study", "subject", "intervention", "report users", "measure", "before → after", "target"),
    *("strength per seed", "collateral RBO", "NDCG@10 before → after", "targets met", "missed"),
)


def steering_section(runs: Runs) -> str:
    rows, comparisons, notes = [], [], []
    for cell, results in runs.items():
        records = sorted((r for r in results.base() if studies_of(r)), key=lambda r: r.seed)
        for name in STUDIES:
            studies = [studies_of(r)[name] for r in records if name in studies_of(r)]
            if not studies:
                continue
            rows.append(_row(cell, name, studies))
            comparisons.append(_comparison(cell, name, studies))
            if verdict(name, studies[0]):
                notes.append(f"- {cell} {name}: {_best_reach(name, studies[0])}")
    return "\n".join(
        [
            "## 6. Steering (report users, no retraining)",
            "",
            METHOD,
            "",
            table(HEADER, rows),
            "",
            BASELINES_TEXT,
            "",
            table(COMPARISON_HEADER, comparisons),
            "",
            "**Where a target is missed** (seed 0), the furthest each SAE curve gets on the report users:",
            "",
            "\n".join(notes) or "Every target is met.",
            "",
            TRIED,
            "",
            "![Dose-response: effect, collateral and NDCG@10 against strength](dose_response.png)",
            "",
            "![Effect against collateral (filtering, promotion) and NDCG@10 (popularity), SAE and baselines]"
            "(steering_frontier.png)",
        ]
    )


def _row(cell: str, name: str, studies: list[StudyResult]) -> list[object]:
    """One study of one cell over its seeds: before and after, the target, and which seeds meet it."""
    first = studies[0]
    after = [s.calibration.report for s in studies]
    met = sum(not verdict(name, s) for s in studies)
    strengths = ", ".join(f"{s.calibration.strength:.2f}" if s.calibration.reached else "–" for s in studies)
    return [
        *(cell, name, first.subject, first.intervention, first.users),
        f"{MEASURE_NAMES[first.measure]} in top-{first.k}",
        f"{stat([s.before.effect for s in studies])} → {stat([a.effect for a in after])}",
        f"{'≤' if name == 'filtering' else '≥'} {stat([s.calibration.bound for s in studies])}",
        strengths,
        stat([a.collateral_rbo for a in after]),
        f"{stat([s.before.ndcg for s in studies], 3)} → {stat([a.ndcg for a in after], 3)}",
        f"{met}/{len(studies)}",
        "; ".join(dict.fromkeys(m for s in studies for m in verdict(name, s))) or "",
    ]


def _comparison(cell: str, name: str, studies: list[StudyResult]) -> list[object]:
    study = studies[0]
    reference = baseline_curve(name, study)
    after = study.calibration.report
    matched = at_effect(reference, after.effect) if reference else None
    ours = f"{after.collateral_rbo:.2f} / {after.ndcg:.3f}"
    theirs = f"{matched.collateral_rbo:.2f} / {matched.ndcg:.3f}" if matched else "not reached by the baseline"
    return [cell, name, BASELINES[name], f"{after.effect:.2f}", ours, theirs]


def _best_reach(name: str, study: StudyResult) -> str:
    """The furthest each SAE curve moves the study's measure, and at what collateral and NDCG."""
    parts = []
    for curve in (c for c in study.curves if c.method.startswith("SAE")):
        best = (min if name == "filtering" else max)(curve.points, key=lambda p: p.effect)
        parts.append(
            f"{curve.method.removeprefix('SAE: ')}: {study.before.effect:.2f} → {best.effect:.2f} at strength "
            f"{best.strength:g} (collateral {best.collateral_rbo:.2f}, NDCG@10 {best.ndcg:.3f})"
        )
    return "; ".join(parts)
