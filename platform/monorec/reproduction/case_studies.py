"""The results page's case-study section: each seed's calibrated edit, the targets, every method compared.

Every seed is shown: the seeds that chose the same intervention share a row, the shortfalls and
the comparison with the SAE-free methods cover every seed, and the headline targets are judged
over every seed of the cells they name. What a study targets, which harm it weighs and when
another method beats the SAE are the study's own declarations (`monorec.case_studies.SPECS`);
the prose is `templates/case_studies.md`.
"""

from __future__ import annotations

import dataclasses

from monorec.case_studies import SPECS, StudySpec
from monorec.case_studies.filtering import MIN_COLLATERAL
from monorec.case_studies.popularity import GAIN, NDCG_SHARE
from monorec.case_studies.spec import MethodPoints, pool
from monorec.reproduction.format import stat, table
from monorec.reproduction.prose import fill
from monorec.reproduction.records import CellRuns, Runs, SAERecord
from monorec.results import StudyResult

HEADER = (
    *("cell", "study", "seeds", "subject", "intervention", "report users", "measure", "before → after"),
    *("target", "strength per seed", "collateral RBO", "NDCG@10 before → after", "targets met", "missed"),
)
COMPARED_HEADER = (
    *("cell", "study", "method", "seeds", "effect", "collateral RBO", "NDCG@10"),
    "spill-over / hidden removed",
)
HIDDEN_HEADER = (
    *("cell", "concept", "share hidden", "items hidden", "items the probe adds that are hidden-tag items"),
    "hidden-tag items in the audience's top-10 lists",
)


@dataclasses.dataclass(frozen=True)
class Headline:
    """A headline target: every seed of each of `cells` meets the study's targets (of at least `min_cells`)."""

    label: str
    study: str
    cells: tuple[str, ...]
    min_cells: int | None = None  # None: all of them

    def met(self, judged: dict[str, Judged]) -> bool:
        passing = sum(j.every_seed for j in judged.values())
        return passing >= self.min_cells if self.min_cells is not None else passing == len(judged)


POPULARITY_MIN_CELLS = 2
HEADLINES = (
    Headline("Hidden-tag Horror filtering on ML-1M MF and LightGCN", "filtering", ("ml1m_mf", "ml1m_lightgcn20")),
    Headline(
        f"Popularity on at least {POPULARITY_MIN_CELLS} of ML-1M MF, NCF and LightGCN",
        "popularity",
        ("ml1m_mf", "ml1m_ncf", "ml1m_lightgcn20"),
        POPULARITY_MIN_CELLS,
    ),
    Headline("Last.FM MF promotion", "promotion", ("lastfm_mf",)),
)


def studied_records(results: CellRuns) -> list[SAERecord]:
    """The cell's paper-default SAEs that ran the case studies, by seed."""
    return sorted((r for r in results.base() if r.run.case_studies), key=lambda r: r.seed)


def seeded(results: CellRuns, spec: StudySpec) -> list[tuple[int, StudyResult]]:
    """Each seed's result of one study in one cell (the seeds that ran it)."""
    return [
        (r.seed, r.run.case_studies[spec.name]) for r in studied_records(results) if spec.name in r.run.case_studies
    ]


def case_studies_section(runs: Runs) -> str:
    rows, compared, notes = [], [], []
    for cell, results in runs.items():
        for spec in SPECS.values():
            studies = seeded(results, spec)
            if not studies:
                continue
            rows += _rows(cell, spec, studies)
            compared += _compared(cell, spec, studies)
            notes += [
                f"- {cell} {spec.name}, seed {seed}: {_best_reach(spec, s)}" for seed, s in studies if spec.misses(s)
            ]
    return fill(
        "case_studies",
        min_collateral=f"{MIN_COLLATERAL:g}",
        gain="doubled" if GAIN == 2 else f"multiplied by {GAIN:g}",
        ndcg_share=f"{NDCG_SHARE:.0%}",
        headline=_headline(runs),
        table=table(HEADER, rows),
        hidden_table=_hidden_table(runs),
        compared_table=table(COMPARED_HEADER, compared),
        losses="\n".join(_losses(runs)) or "Nowhere: the SAE's edit is ahead of every SAE-free method.",
        misses="\n".join(notes) or "Every target is met.",
    )


def _rows(cell: str, spec: StudySpec, studies: list[tuple[int, StudyResult]]) -> list[list[object]]:
    """One row per intervention chosen, over the seeds that chose it."""
    groups: dict[str, list[tuple[int, StudyResult]]] = {}
    for seed, study in studies:
        groups.setdefault(study.intervention, []).append((seed, study))
    rows = []
    for intervention, chosen in groups.items():
        group = [s for _, s in chosen]
        first, after = group[0], [s.calibration.report for s in group]
        met = sum(not spec.misses(s) for s in group)
        strengths = ", ".join(f"{s.calibration.strength:.2f}" if s.calibration.reached else "–" for s in group)
        rows.append(
            [
                *(
                    cell,
                    spec.name,
                    ", ".join(str(seed) for seed, _ in chosen),
                    first.subject,
                    intervention,
                    first.users,
                ),
                f"{spec.measure_label} in top-{first.k}",
                f"{stat([s.before.effect for s in group])} → {stat([a.effect for a in after])}",
                f"{'≤' if spec.lower_is_better else '≥'} {stat([s.calibration.bound for s in group])}",
                strengths,
                stat([a.collateral_rbo for a in after]),
                f"{stat([s.before.ndcg for s in group], 3)} → {stat([a.ndcg for a in after], 3)}",
                f"{met}/{len(group)}",
                "; ".join(dict.fromkeys(m for s in group for m in spec.misses(s))),
            ]
        )
    return rows


def _compared(cell: str, spec: StudySpec, studies: list[tuple[int, StudyResult]]) -> list[list[object]]:
    rows = []
    for method in pool(studies).values():
        extra = stat(method.spill) if spec.harm == "spill" else stat(method.hidden_removed, 1)
        rows.append(
            [
                *(cell, spec.name, method.name, ", ".join(map(str, method.seeds))),
                *(stat(method.effect), stat(method.collateral), stat(method.ndcg, 3), extra),
            ]
        )
    return rows


def _losses(runs: Runs) -> list[str]:
    """Every SAE-free method that matches or beats the SAE's edit, with both methods' numbers."""
    lines = []
    for cell, results in runs.items():
        for spec in SPECS.values():
            methods = pool(seeded(results, spec))
            sae = next((m for m in methods.values() if m.source == "sae"), None)
            for other in (m for m in methods.values() if sae is not None and m.source not in ("sae", "reference")):
                if spec.beats(sae, other):
                    lines.append(
                        f"- {cell} {spec.name}: {other.name} ({_summary(spec, other)}; SAE {_summary(spec, sae)})"
                    )
    return lines


def _summary(spec: StudySpec, method: MethodPoints) -> str:
    axis = spec.axis
    return f"{spec.effect_label} {stat(method.effect)}, {axis.label} {stat(method.harm(spec.harm), axis.digits)}"


def _hidden_table(runs: Runs) -> str:
    """What was hidden and what the probe found, per cell: the same for every SAE seed (neither reads the SAE)."""
    rows = []
    for cell, results in runs.items():
        found = [s for spec in SPECS.values() for _, s in seeded(results, spec) if "hidden_items" in s.details]
        if not found:
            continue
        study = found[0]
        d = {key: int(value) if key != "hidden_share" else value for key, value in study.details.items()}
        rows.append(
            [
                *(cell, study.subject, f"{d['hidden_share']:g} (seed {d['hidden_seed']})"),
                f"{d['hidden_items']} of {d['tagged_items']}",
                f"{d['probe_inferred_hidden']} of {d['probe_inferred_items']}",
                d["hidden_in_top_before"],
            ]
        )
    return table(HIDDEN_HEADER, rows) if rows else ""


@dataclasses.dataclass(frozen=True)
class Judged:
    """One cell's seeds against a study's targets: how many meet them, and what the others miss."""

    met: int
    seeds: int
    misses: list[str]

    @property
    def every_seed(self) -> bool:
        return self.seeds > 0 and self.met == self.seeds


def _judged(runs: Runs, headline: Headline) -> dict[str, Judged]:
    spec, judged = SPECS[headline.study], {}
    for cell in (c for c in headline.cells if c in runs):
        misses = {seed: spec.misses(study) for seed, study in seeded(runs[cell], spec)}
        shown = [f"seed {seed}: {'; '.join(missed)}" for seed, missed in misses.items() if missed]
        judged[cell] = Judged(sum(not missed for missed in misses.values()), len(misses), shown)
    return judged


def _headline(runs: Runs) -> str:
    """The headline targets, judged over every seed of the cells they name, with what each miss lacks."""
    lines = []
    for headline in HEADLINES:
        judged = _judged(runs, headline)
        if not judged:
            lines.append(f"- {headline.label}: not run.")
            continue
        counts = ", ".join(f"{cell} {j.met}/{j.seeds} seeds" for cell, j in judged.items())
        misses = " ".join(f"{cell} {miss}." for cell, j in judged.items() for miss in j.misses)
        verdict = "**met**" if headline.met(judged) else "**not met**"
        lines.append(f"- {headline.label}: {verdict} ({counts}). {misses}".rstrip())
    return "\n".join(lines)


def _best_reach(spec: StudySpec, study: StudyResult) -> str:
    """The furthest each SAE curve moves the study's measure, and at what collateral and NDCG."""
    parts = []
    for curve in study.curves_from("sae"):
        best = (min if spec.lower_is_better else max)(curve.points, key=lambda p: p.effect)
        parts.append(
            f"{curve.method}: {study.before.effect:.2f} → {best.effect:.2f} at strength "
            f"{best.strength:g} (collateral {best.collateral_rbo:.2f}, NDCG@10 {best.ndcg:.3f})"
        )
    return "; ".join(parts)
