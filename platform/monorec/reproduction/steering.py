"""The results page's steering section: each seed's calibrated intervention, the targets, the methods compared.

Every seed is shown: the seeds that chose the same intervention share a row, the shortfalls and
the comparison with the SAE-free methods cover every seed, and the headline targets are judged
over every seed of the cells they name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from monorec.reproduction.format import stat, table
from monorec.reproduction.records import CellRuns, Runs, SAERecord
from monorec.results import Operating, StudyResult

STUDIES = ("filtering", "promotion", "popularity")
MEASURE_NAMES = {
    "concept_share": "concept share (every tag)",
    "item_reach": "audience with the item",
    "long_tail_share": "long-tail share",
}

# The page's targets: `verdict` checks them and the page's prose states them, from these numbers.
FILTER_MIN_COLLATERAL = 0.6  # filtering: collateral RBO at least this
POPULARITY_GAIN = 2  # popularity: the long-tail share multiplied by at least this ("doubled")
POPULARITY_BASELINE_NDCG = 0.95  # popularity: NDCG@10 at least this share of the penalty's at the same share
POPULARITY_CELLS = ("ml1m_mf", "ml1m_ncf", "ml1m_lightgcn20")  # the headline: met on at least two of them
POPULARITY_MIN_CELLS = 2
HIDDEN_CELLS = ("ml1m_mf", "ml1m_lightgcn20")  # the headline hidden-tag filtering cells
PROMOTION_CELLS = ("lastfm_mf",)  # the headline promotion cell

VISIBLE_FILTER = "baseline: metadata filter (visible tags)"
PENALTY = "baseline: popularity penalty"
OFFSET = "baseline: score offset"


def steering_records(results: CellRuns) -> list[SAERecord]:
    """The cell's paper-default SAEs that ran the case studies, by seed."""
    return sorted((r for r in results.base() if studies_of(r)), key=lambda r: r.seed)


def studies_of(record: SAERecord) -> dict[str, StudyResult]:
    steering = record.run.steering
    return {name: study for name in STUDIES if (study := getattr(steering, name)) is not None}


def operating(study: StudyResult, prefix: str) -> Operating | None:
    """The study's operating point of the method whose name starts with `prefix`."""
    return next((o for o in study.operating if o.method.startswith(prefix)), None)


def spill(study: StudyResult, point: Operating | None) -> float | None:
    """Promotion's spill-over: the rise of the item's reach outside the audience at this point."""
    if point is None or point.point.outside is None or study.before.outside is None:
        return None
    return point.point.outside - study.before.outside


def verdict(name: str, study: StudyResult) -> list[str]:
    """Which of the page's targets this calibrated result misses (empty: all met), on the report users."""
    after, bound, misses = study.calibration.report, study.calibration.bound, []
    if not study.calibration.reached:
        misses.append("no strength reaches the target on the validation users")
    if name == "filtering":
        if after.effect > bound:
            misses.append(f"share {after.effect:.2f} > {bound:.2f}")
        if after.collateral_rbo < FILTER_MIN_COLLATERAL:
            misses.append(f"collateral RBO {after.collateral_rbo:.2f} < {FILTER_MIN_COLLATERAL:g}")
        reference = operating(study, VISIBLE_FILTER)
        if reference is not None and after.effect >= reference.point.effect:
            misses.append(f"share not below the visible-tag filter's {reference.point.effect:.2f}")
    elif name == "promotion":
        if after.effect < bound:
            misses.append(f"reach {after.effect:.2f} < {bound:.2f}")
        ours, theirs = spill(study, operating(study, "SAE")), spill(study, operating(study, OFFSET))
        if ours is not None and theirs is not None and ours >= theirs:
            misses.append(f"spill-over {ours:+.2f} not below the score offset's {theirs:+.2f}")
    else:
        before = study.before
        if after.effect < POPULARITY_GAIN * before.effect:
            misses.append(f"long-tail share {after.effect:.2f} < {POPULARITY_GAIN:g} × {before.effect:.2f}")
        reference = operating(study, PENALTY)
        if reference is not None and after.ndcg < POPULARITY_BASELINE_NDCG * reference.point.ndcg:
            misses.append(
                f"NDCG@10 {after.ndcg:.3f} < {POPULARITY_BASELINE_NDCG:.0%} of the penalty's "
                f"{reference.point.ndcg:.3f} at that share"
            )
        elif reference is None:
            misses.append("the penalty does not reach that share")
    return misses


TARGETS = (
    f"Targets, on the report users: filtering, the concept's share of the audience's top-10 (every tag) at most "
    f"the bound with collateral RBO ≥ {FILTER_MIN_COLLATERAL:g}, and below the share the metadata filter on the "
    "visible tags leaves; promotion, the item in the top-k of at least the bound's share of its audience, with "
    f"less spill-over than the score offset at the same reach; popularity, the long-tail share of the top-10 "
    f"{'doubled' if POPULARITY_GAIN == 2 else f'multiplied by {POPULARITY_GAIN:g}'} with NDCG@10 at least "
    f"{POPULARITY_BASELINE_NDCG:.0%} of the popularity penalty's at the same share."
)
METHOD = (
    "An intervention edits SAE codes and adds the edit's decoded change to the original embeddings, which "
    "the frozen model scores: with no edit the lists are the model's own, so collateral comes from the edit "
    "alone. suppress(s): z ← (1 − s) z (s > 1 steers away); boost(s): z ← z + s · the neuron's largest "
    "activation. An edit moves one neuron, or a concept direction: every neuron weighted by Cohen's d of its "
    "item codes between the concept's items and the rest, the largest weight 1 (docs/method.md §5). Edits "
    "apply to the user tower, the item tower or both; on MF an item edit also moves the item's bias by its "
    "read-out from the popularity neurons. Each study's candidates are calibrated on the validation users "
    "(the smallest strength meeting the target); the one meeting it with the least harm there is measured on "
    "the report users. Seeds that chose the same intervention share a row (strength per seed, – where no "
    "strength reaches the target). " + TARGETS
)
HIDDEN = (
    "**Filtering where labels run out.** A seeded half of the concept's item tags (seed and share in the "
    "table) is hidden from everything monorec uses to label, calibrate and filter: the concept's best neuron "
    "(purity on visible tags), its direction (Cohen's d on visible tags), the validation audience and target, "
    "the linear probe and the metadata filters see the visible tags only. The evaluation uses every tag: the "
    "audience is the `filter_users` report users (50 by default) with the most of the concept in their "
    "top-10, the effect the concept's share of their top-10 and the collateral the RBO of their lists "
    "without the concept's items. The probe "
    "is a class-balanced logistic regression on the item embeddings (a concept activation vector), used to "
    "infer the hidden tags before the filter and, through the same edit code, as a steering direction. "
    "Hidden items removed: how many hidden-tag items each method took out of the audience's top-10 lists "
    "(negative: it let more in, as the visible-tag filter does when it removes the visible ones)."
)
COMPARED = (
    "**Every method at its operating point** (mean ± sd over seeds, report users): the SAE's and the "
    "probe's edits at their calibrated strength, the metadata filters at full removal; for popularity and "
    "promotion, the SAE-free methods read at the SAE's calibrated effect. Popularity's baselines are the "
    "popularity penalty (score − γ · log(1 + count)) and smooth xQuAD (Abdollahpouri, Burke & Mobasher, "
    "FLAIRS 2019, re-ranking each top-10 toward the user's own share of long-tail items); promotion's "
    "spill-over is the rise of the item's top-k reach among the report users outside the audience."
)
TRIED = (
    "What was tried (every candidate's curve is in the metrics files). Adding the edit's change to the "
    "original embedding rather than scoring the edited reconstruction (the paper's way): without it the "
    "SAE's reconstruction error alone reshuffles lists before any edit. Strengths beyond removal (s > 1). "
    "Each tower. One neuron against a concept direction. Suppressing on both towers at once turns back past "
    "s = 1 on MF (the user's and the items' components both change sign, so their product is restored) but is "
    "the only edit NCF's lists follow: NCF reads a concept mostly from the item side of its MLP. Promotion "
    "through the item's own concept (Folk) against its audience's concepts (Metal, Pop), as neurons or "
    "directions. On MF, a bias read-out from every neuron instead of the popularity neurons only: on Last.FM, "
    "63 of its 70 coefficients were negative and none above 0.04, so boosting any genre on an item lowered "
    "its bias and buried it."
)
HEADER = (
    *("cell", "study", "seeds", "subject", "intervention", "report users", "measure", "before → after"),
    *("target", "strength per seed", "collateral RBO", "NDCG@10 before → after", "targets met", "missed"),
)
COMPARED_HEADER = (
    "cell",
    "study",
    "method",
    "seeds",
    "effect",
    "collateral RBO",
    "NDCG@10",
    "spill-over / hidden removed",
)


def steering_section(runs: Runs) -> str:
    rows, compared, notes = [], [], []
    for cell, results in runs.items():
        records = steering_records(results)
        for name in STUDIES:
            studies = [(r.seed, studies_of(r)[name]) for r in records if name in studies_of(r)]
            if not studies:
                continue
            rows += _rows(cell, name, studies)
            compared += _compared(cell, name, studies)
            notes += [
                f"- {cell} {name}, seed {seed}: {_best_reach(name, s)}" for seed, s in studies if verdict(name, s)
            ]
    return "\n".join(
        [
            "## 6. Steering (report users, no retraining)",
            "",
            METHOD,
            "",
            _headline(runs),
            "",
            table(HEADER, rows),
            "",
            HIDDEN,
            "",
            _hidden_table(runs),
            "",
            COMPARED,
            "",
            table(COMPARED_HEADER, compared),
            "",
            "**Where an SAE-free method matches or beats the SAE's edit** (means over seeds at the operating points "
            f"above: for filtering a share no higher at collateral ≥ {FILTER_MIN_COLLATERAL:g}, for popularity "
            "NDCG@10 no lower at the SAE's long-tail share, for promotion spill-over no higher at the SAE's reach; "
            "the every-tag filter is left out, no real catalogue has it):",
            "",
            "\n".join(_losses(runs)) or "Nowhere: the SAE's edit is ahead of every SAE-free method.",
            "",
            "**Where a target is missed**, the furthest each SAE curve gets on the report users:",
            "",
            "\n".join(notes) or "Every target is met.",
            "",
            TRIED,
            "",
            "![Dose-response of each seed's calibrated intervention: effect, collateral and NDCG@10 against strength]"
            "(dose_response.png)",
            "",
            "![Each seed's calibrated SAE curve, the probe's and the baselines': effect against collateral "
            "(filtering), spill-over (promotion) and NDCG@10 (popularity)](steering_frontier.png)",
        ]
    )


def _rows(cell: str, name: str, studies: list[tuple[int, StudyResult]]) -> list[list[object]]:
    """One row per intervention chosen, over the seeds that chose it."""
    groups: dict[str, list[tuple[int, StudyResult]]] = {}
    for seed, study in studies:
        groups.setdefault(study.intervention, []).append((seed, study))
    rows = []
    for intervention, chosen in groups.items():
        group = [s for _, s in chosen]
        first, after = group[0], [s.calibration.report for s in group]
        met = sum(not verdict(name, s) for s in group)
        strengths = ", ".join(f"{s.calibration.strength:.2f}" if s.calibration.reached else "–" for s in group)
        rows.append(
            [
                *(cell, name, ", ".join(str(seed) for seed, _ in chosen), first.subject, intervention, first.users),
                f"{MEASURE_NAMES[first.measure]} in top-{first.k}",
                f"{stat([s.before.effect for s in group])} → {stat([a.effect for a in after])}",
                f"{'≤' if name == 'filtering' else '≥'} {stat([s.calibration.bound for s in group])}",
                strengths,
                stat([a.collateral_rbo for a in after]),
                f"{stat([s.before.ndcg for s in group], 3)} → {stat([a.ndcg for a in after], 3)}",
                f"{met}/{len(group)}",
                "; ".join(dict.fromkeys(m for s in group for m in verdict(name, s))),
            ]
        )
    return rows


def _method_key(method: str) -> str:
    """SAE and probe rows pool the seeds' choices (named per seed in the table above); baselines keep their name."""
    source = method.split(":", 1)[0]
    return f"{source} (calibrated)" if source in ("SAE", "probe") else method.removeprefix("baseline: ")


@dataclasses.dataclass(frozen=True)
class Method:
    """One method's operating points over the seeds of one study of one cell."""

    name: str
    seeds: list[int]
    effect: list[float]
    collateral: list[float]
    ndcg: list[float]
    spill: list[float | None]  # promotion
    hidden_removed: list[float]  # filtering with hidden tags

    @property
    def reference_only(self) -> bool:
        """The every-tag filter: what no one filtering a real catalogue has, shown for reference."""
        return self.name.endswith("for reference)")


def _methods(studies: list[tuple[int, StudyResult]]) -> dict[str, Method]:
    """Every method's operating points, the SAE's and the probe's pooled over the seeds' choices."""
    entries: dict[str, list[tuple[int, StudyResult, Operating]]] = {}
    for seed, study in studies:
        for point in study.operating:
            entries.setdefault(_method_key(point.method), []).append((seed, study, point))
    return {
        name: Method(
            name,
            [seed for seed, _, _ in found],
            [o.point.effect for _, _, o in found],
            [o.point.collateral_rbo for _, _, o in found],
            [o.point.ndcg for _, _, o in found],
            [spill(study, o) for _, study, o in found],
            [float(o.hidden_removed) for _, _, o in found if o.hidden_removed is not None],
        )
        for name, found in entries.items()
    }


def _compared(cell: str, name: str, studies: list[tuple[int, StudyResult]]) -> list[list[object]]:
    rows = []
    for method in _methods(studies).values():
        extra = {"promotion": stat(method.spill), "filtering": stat(method.hidden_removed, 1)}.get(name, "–")
        rows.append(
            [
                *(cell, name, method.name, ", ".join(map(str, method.seeds))),
                *(stat(method.effect), stat(method.collateral), stat(method.ndcg, 3), extra),
            ]
        )
    return rows


def _beats_the_sae(name: str, sae: Method, other: Method) -> bool:
    """At the operating points (means over seeds): does a method do the study's job at least as well?

    Filtering: a share no higher at collateral at least `FILTER_MIN_COLLATERAL`; popularity: NDCG@10
    no lower at the SAE's share; promotion: spill-over no higher at the SAE's reach.
    """
    mean = lambda values: float(np.mean([v for v in values if v is not None]))  # noqa: E731
    if name == "filtering":
        return mean(other.effect) <= mean(sae.effect) and mean(other.collateral) >= FILTER_MIN_COLLATERAL
    if name == "popularity":
        return mean(other.ndcg) >= mean(sae.ndcg)
    return any(v is not None for v in other.spill) and mean(other.spill) <= mean(sae.spill)


def _losses(runs: Runs) -> list[str]:
    """Every SAE-free method that matches or beats the SAE's edit, with both methods' numbers."""
    lines = []
    for cell, results in runs.items():
        records = steering_records(results)
        for name in STUDIES:
            methods = _methods([(r.seed, studies_of(r)[name]) for r in records if name in studies_of(r)])
            sae = methods.pop("SAE (calibrated)", None)
            for other in (m for m in methods.values() if sae is not None and not m.reference_only):
                if _beats_the_sae(name, sae, other):
                    lines.append(f"- {cell} {name}: {other.name} ({_summary(name, other)}; SAE {_summary(name, sae)})")
    return lines


def _summary(name: str, method: Method) -> str:
    if name == "filtering":
        return f"share {stat(method.effect)}, collateral {stat(method.collateral)}"
    if name == "popularity":
        return f"long-tail share {stat(method.effect)}, NDCG@10 {stat(method.ndcg, 3)}"
    return f"reach {stat(method.effect)}, spill-over {stat(method.spill)}"


def _hidden_table(runs: Runs) -> str:
    """What was hidden and what the probe found, per cell: the same for every SAE seed (neither reads the SAE)."""
    rows = []
    for cell, results in runs.items():
        study = next(
            (studies_of(r)["filtering"] for r in steering_records(results) if "filtering" in studies_of(r)), None
        )
        if study is None or "hidden_items" not in study.details:
            continue
        d = {key: int(value) if key != "hidden_share" else value for key, value in study.details.items()}
        rows.append(
            [
                *(cell, study.subject, f"{d['hidden_share']:g} (seed {d['hidden_seed']})"),
                f"{d['hidden_items']} of {d['tagged_items']}",
                f"{d['probe_inferred_hidden']} of {d['probe_inferred_items']}",
                d["hidden_in_top_before"],
            ]
        )
    header = (
        *("cell", "concept", "share hidden", "items hidden", "items the probe adds that are hidden-tag items"),
        "hidden-tag items in the audience's top-10 lists",
    )
    return table(header, rows) if rows else ""


@dataclasses.dataclass(frozen=True)
class Judged:
    """One cell's seeds against a study's targets: how many meet them, and what the others miss."""

    met: int
    seeds: int
    misses: list[str]

    @property
    def every_seed(self) -> bool:
        return self.seeds > 0 and self.met == self.seeds


def _judged(runs: Runs, cells: tuple[str, ...], name: str) -> dict[str, Judged]:
    judged = {}
    for cell in (c for c in cells if c in runs):
        seeded = [(r.seed, studies_of(r).get(name)) for r in steering_records(runs[cell])]
        misses = {seed: verdict(name, study) for seed, study in seeded if study is not None}
        shown = [f"seed {seed}: {'; '.join(missed)}" for seed, missed in misses.items() if missed]
        judged[cell] = Judged(sum(not missed for missed in misses.values()), len(misses), shown)
    return judged


def _headline(runs: Runs) -> str:
    """The three headline targets, judged over every seed of the cells they name, with what each miss lacks."""

    def line(label: str, judged: dict[str, Judged], met: bool) -> str:
        if not judged:
            return f"- {label}: not run."
        counts = ", ".join(f"{cell} {j.met}/{j.seeds} seeds" for cell, j in judged.items())
        misses = " ".join(f"{cell} {miss}." for cell, j in judged.items() for miss in j.misses)
        return f"- {label}: {'**met**' if met else '**not met**'} ({counts}). {misses}".rstrip()

    hidden, popularity = _judged(runs, HIDDEN_CELLS, "filtering"), _judged(runs, POPULARITY_CELLS, "popularity")
    promotion = _judged(runs, PROMOTION_CELLS, "promotion")
    return "\n".join(
        [
            "**Headline targets** (every seed of each named cell must meet the study's targets):",
            "",
            line(
                "Hidden-tag Horror filtering on ML-1M MF and LightGCN",
                hidden,
                all(j.every_seed for j in hidden.values()),
            ),
            line(
                f"Popularity on at least {POPULARITY_MIN_CELLS} of ML-1M MF, NCF and LightGCN",
                popularity,
                sum(j.every_seed for j in popularity.values()) >= POPULARITY_MIN_CELLS,
            ),
            line("Last.FM MF promotion", promotion, all(j.every_seed for j in promotion.values())),
        ]
    )


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


def frontier_panels(runs: Runs) -> dict[str, tuple[str, dict[str, list[tuple[float, float]]]]]:
    """Per (cell, study): each seed's calibrated SAE curve, the probe's calibrated curve and the baselines
    (one seed's: they do not depend on the SAE), as (effect, harm) points."""
    panels: dict = {}
    for cell, results in runs.items():
        records = steering_records(results)
        for name in STUDIES:
            seeded = [(r.seed, studies_of(r)[name]) for r in records if name in studies_of(r)]
            if not seeded:
                continue
            harm, value = _harm(name)
            methods = {}
            for seed, study in seeded:
                chosen = study.chosen_curve
                methods[f"SAE seed {seed}: {chosen.method.removeprefix('SAE: ')}"] = value(chosen)
            first = seeded[0][1]  # the probe and the baselines read the recommender alone: the same for every seed
            probe = operating(first, "probe")
            shared = [
                c for c in first.curves if c.method.startswith("baseline") or (probe and c.method == probe.method)
            ]
            methods |= {curve.method: value(curve) for curve in shared}
            panels[f"{cell}: {name}"] = (harm, methods)
    return panels


def dose_panels(runs: Runs) -> dict[str, dict[str, list[tuple[float, float, float, float]]]]:
    """Per (cell, study): each seed's calibrated SAE curve as (strength, effect, collateral, NDCG)."""
    panels: dict = {}
    for cell, results in runs.items():
        for record in steering_records(results):
            for name, study in studies_of(record).items():
                points = [(p.strength, p.effect, p.collateral_rbo, p.ndcg) for p in study.chosen_curve.points]
                panels.setdefault(f"{cell}: {name}", {})[f"seed {record.seed}"] = points
    return panels


def _harm(name: str) -> tuple[str, Callable]:
    if name == "popularity":
        return "NDCG@10", lambda curve: [(p.effect, p.ndcg) for p in curve.points]
    if name == "promotion":
        return "spill-over (reach outside the audience, rise)", lambda curve: [
            (p.effect, (p.outside or 0.0) - (curve.points[0].outside or 0.0)) for p in curve.points
        ]
    return "collateral RBO", lambda curve: [(p.effect, p.collateral_rbo) for p in curve.points]
