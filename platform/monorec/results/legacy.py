"""The one mapping from results written by older versions of monorec to today's shape.

Committed records (`results/metrics/`, `results/ablation/`) and any `metrics.json` a user kept
are read through `upgrade`, so renaming a field never invalidates a run. What it maps:

    SAERun.steering (three fields, null where    ->  SAERun.case_studies (the studies that ran)
      a study did not run)
    a curve's or operating point's method        ->  its plain name and a typed source
      "SAE: …", "probe: …", "baseline: …"            (sae, probe, baseline; the every-tag filter,
                                                     "… for reference)", is a reference)
    a reproduction record's SAE "kind"           ->  its "architecture" (relu, matryoshka, topk)

Values already in today's shape pass through unchanged.
"""

from __future__ import annotations

from typing import Any

PREFIXES = {"SAE: ": "sae", "probe: ": "probe", "baseline: ": "baseline"}
REFERENCE_SUFFIX = "for reference)"  # the every-tag metadata filter, which no real catalogue has
ARCHITECTURES = ("relu", "matryoshka", "topk")


def upgrade(values: Any) -> Any:
    """`values` (nested JSON) with every old-shaped part rewritten, recursively."""
    if isinstance(values, list):
        return [upgrade(value) for value in values]
    if not isinstance(values, dict):
        return values
    values = {key: upgrade(value) for key, value in values.items()}
    if "steering" in values and {"fidelity", "mono"} <= values.keys():
        studies = values.pop("steering")
        values["case_studies"] = {name: study for name, study in studies.items() if study is not None}
    if isinstance(values.get("method"), str) and "source" not in values and ({"point", "points"} & values.keys()):
        values.update(method_source(values["method"]))
    if values.get("kind") in ARCHITECTURES and {"variant", "run"} <= values.keys():
        values["architecture"] = values.pop("kind")
    return values


def method_source(method: str) -> dict[str, str]:
    """An old prefixed method name as today's plain name and source."""
    for prefix, source in PREFIXES.items():
        if method.startswith(prefix):
            name = method.removeprefix(prefix)
            return {"method": name, "source": "reference" if name.endswith(REFERENCE_SUFFIX) else source}
    return {"method": method, "source": "baseline"}
