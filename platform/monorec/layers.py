"""The package's layers, lowest first: a module imports only from its own unit and lower layers.

A unit is a top-level module or subpackage of `monorec` (`sae`, `pipeline`). The order is the
one a newcomer reads the code in: plain helpers, then typed settings and results, data and
the training loop, the models, the SAE, naming its neurons, steering (the controls one request
applies), bundles, serving and the case studies that measure those controls, whole runs, and
last the layers that drive runs (the search, the reproduction, the jobs' command line). Ray
and MLflow sit in `distributed`, `tune` and `tracking` only, above the core they drive.
`tests/test_layers.py` fails when a module imports from a higher layer, including imports
inside functions, so the order cannot drift.
"""

from __future__ import annotations

LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "paths", "storage", "parallel", "stages", "layers", "paper"),  # no monorec imports
    ("kinds", "typed", "devices", "ids", "extras", "plots"),  # plain helpers
    ("config", "results"),  # what a run is told, and what it reports
    ("data", "training"),  # interactions and splits; the one training loop
    ("recommenders", "evaluation"),  # two-tower models; ranking and fidelity measures
    ("sae",),  # the sparse autoencoder, its loss, training and activation scan
    ("interpret",),  # naming neurons
    ("interventions", "explorer", "bundle"),  # steering; the explorer page; bundles
    ("serving", "case_studies", "distributed", "tracking"),  # the service core; the paper's studies; Ray Train; MLflow
    ("pipeline",),  # whole runs
    ("tune", "reproduction", "cli"),  # the search, the paper's reproduction, the jobs' command line
)


def layer_of(unit: str) -> int:
    """The index in `LAYERS` of a unit (`sae` for `monorec.sae.training`)."""
    for index, units in enumerate(LAYERS):
        if unit in units:
            return index
    raise KeyError(f"monorec.{unit} is in no layer: add it to monorec.layers.LAYERS")
