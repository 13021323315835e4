"""One place per decision: model kinds live in the registry, MLflow in the tracker.

These tests read the package's source: a module that compares a model kind's name, or that
imports MLflow, outside the one module allowed to, fails them with its file and line.
"""

import ast
import typing
from pathlib import Path

import pytest

import monorec
from monorec.config import ModelConfig
from monorec.errors import ConfigError
from monorec.kinds import KIND_NAMES, KINDS, ModelKind, kind_traits
from monorec.recommenders import REGISTRY, KindSpec
from monorec.recommenders.factors import FactorModel
from monorec.recommenders.fold_in import GRADIENT

PACKAGE = Path(monorec.__file__).parent
KIND_MODULES = {PACKAGE / "kinds.py", PACKAGE / "recommenders" / "registry.py"}


def _sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _kind_literals(node: ast.AST) -> list[str]:
    """Kind names written as string literals in `node` (a constant, or a tuple / list / set of them)."""
    if isinstance(node, ast.Constant) and node.value in KINDS:
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [name for element in node.elts for name in _kind_literals(element)]
    return []


def kind_decisions(source: str) -> list[tuple[int, str]]:
    """(line, names) of every comparison against, or membership test in, literal kind names."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            names = [n for operand in (node.left, *node.comparators) for n in _kind_literals(operand)]
            if names:
                found.append((node.lineno, ", ".join(names)))
        elif isinstance(node, ast.Assign) and len(_kind_literals(node.value)) > 1:  # KIND_LIST = ("als", "bpr")
            found.append((node.lineno, ", ".join(_kind_literals(node.value))))
    return found


def test_the_registry_holds_every_kind_and_the_config_accepts_exactly_those():
    assert list(REGISTRY) == list(KINDS) == list(KIND_NAMES)
    assert typing.get_args(ModelKind) == KIND_NAMES
    assert all(spec.traits is KINDS[name] for name, spec in REGISTRY.items())
    with pytest.raises(ConfigError, match=r"unknown model\.kind 'svd': one of mf, ncf"):
        kind_traits("svd")


def test_no_module_outside_the_registry_decides_by_a_kind_name():
    decisions = [
        f"{path.relative_to(PACKAGE)}:{line} compares {names}"
        for path in _sources()
        if path not in KIND_MODULES
        for line, names in kind_decisions(path.read_text())
    ]
    assert not decisions, "model kinds decided outside monorec.kinds / recommenders.registry:\n" + "\n".join(decisions)


def test_the_kind_check_catches_comparisons_and_lists():
    source = 'if kind == "als": pass\nok = kind in ("mf", "ncf")\nTRAINED = ("mf", "lightgcn")\nx = "mf"\n'
    assert sorted(kind_decisions(source)) == [(1, "als"), (2, "mf, ncf"), (3, "mf, lightgcn")]


def test_only_the_tracker_imports_mlflow():
    importers = []
    for path in _sources():
        for node in ast.walk(ast.parse(path.read_text())):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                modules.append(node.module)
            if any(m.split(".")[0] == "mlflow" for m in modules):
                importers.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert importers and all(i.startswith("tracking.py:") for i in importers), importers


def test_a_kind_spec_is_either_trained_here_or_fitted_elsewhere():
    traits = KINDS["mf"]
    with pytest.raises(ValueError, match="give build and train, or fit_external"):
        KindSpec(traits, restore=FactorModel.from_architecture, fold_in=lambda train: GRADIENT)
    with pytest.raises(ValueError, match="give build and train, or fit_external"):
        KindSpec(traits, restore=FactorModel.from_architecture, fold_in=lambda train: GRADIENT, build=FactorModel.build)
    with pytest.raises(ConfigError, match=r"does not train model\.kind als"):
        REGISTRY["als"].new(ModelConfig("als"), 3, 4)


def test_model_settings_of_one_kind_leave_other_kinds_hashes_alone():
    from monorec.config import ExperimentConfig, recommender_hash

    base = ExperimentConfig()
    deeper = ExperimentConfig(model=ModelConfig(layers=5))  # LightGCN's own setting, on MF
    assert recommender_hash(base) == recommender_hash(deeper)
    gcn = ExperimentConfig(model=ModelConfig("lightgcn"))
    assert recommender_hash(gcn) != recommender_hash(ExperimentConfig(model=ModelConfig("lightgcn", layers=5)))
