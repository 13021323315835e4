"""One place per decision: a model kind in its own files, MLflow in the tracker.

These tests read the package's source: a module that compares a model kind's name, or that
imports MLflow, outside the modules allowed to, fails them with its file and line. A kind is
declared in `monorec/kinds/` and registered there by name; its code is found from its
declaration; its settings are its own section of `model`, and no shipped config's hash moved
when they became so.
"""

import ast
import json
import logging
from pathlib import Path

import pytest

import monorec
from monorec.config import ExperimentConfig, ModelConfig, family_hash, load_config, recommender_hash, run_hash
from monorec.config.model import upgrade_keys
from monorec.errors import ConfigError
from monorec.kinds import DECLARED, KINDS, kind_traits
from monorec.kinds.lightgcn import LightGCNSettings
from monorec.kinds.ncf import NCFSettings
from monorec.recommenders import KindSpec, kind_spec
from monorec.recommenders.factors import FactorModel
from monorec.recommenders.fold_in import GRADIENT

PACKAGE = Path(monorec.__file__).parent
ROOT = PACKAGE.parents[1]
KIND_MODULES = set((PACKAGE / "kinds").glob("*.py"))  # the declarations and the registration line


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


def test_every_declared_kind_has_its_code_and_the_config_accepts_exactly_those():
    assert list(KINDS) == list(DECLARED)
    assert all(kind_spec(name).traits is KINDS[name] for name in KINDS)
    with pytest.raises(ConfigError, match=r"unknown model\.kind 'svd': one of mf, ncf"):
        kind_traits("svd")
    with pytest.raises(ConfigError, match=r"unknown model\.kind 'svd': one of mf, ncf, lightgcn, als, bpr"):
        ModelConfig("svd")


def test_no_module_outside_the_registry_decides_by_a_kind_name():
    decisions = [
        f"{path.relative_to(PACKAGE)}:{line} compares {names}"
        for path in _sources()
        if path not in KIND_MODULES
        for line, names in kind_decisions(path.read_text())
    ]
    assert not decisions, "model kinds decided outside monorec/kinds/:\n" + "\n".join(decisions)


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
    code = {"restore": FactorModel.from_architecture, "fold_in": lambda train: GRADIENT}
    with pytest.raises(ValueError, match="give build"):
        KindSpec(KINDS["als"], **code)
    with pytest.raises(ValueError, match="give build"):
        KindSpec(KINDS["als"], **code, build=FactorModel.build, fit_external=lambda *_: None)
    with pytest.raises(ValueError, match="Ray Train trains a built model on pair shards: no attach"):
        KindSpec(KINDS["mf"], **code, build=FactorModel.build, attach=lambda model, split: model)
    with pytest.raises(ConfigError, match=r"does not train model\.kind als"):
        kind_spec("als").new(ModelConfig("als"), 3, 4)


def test_model_settings_of_one_kind_leave_other_kinds_hashes_alone():
    base = ExperimentConfig()
    deeper = ExperimentConfig(model=ModelConfig(lightgcn=LightGCNSettings(5)))  # LightGCN's own setting, on MF
    assert recommender_hash(base) == recommender_hash(deeper)
    gcn = ExperimentConfig(model=ModelConfig("lightgcn"))
    assert recommender_hash(gcn) != recommender_hash(
        ExperimentConfig(model=ModelConfig("lightgcn", lightgcn=deeper.model.lightgcn))
    )
    wider = ExperimentConfig(model=ModelConfig(ncf=NCFSettings([8])))  # `model.hidden` was in every kind's hash
    assert recommender_hash(base) != recommender_hash(wider)


def test_every_shipped_config_keeps_the_hash_it_had_before_kinds_had_sections():
    """Hashes computed before `model.hidden` became `model.ncf.hidden` (and `layers` `lightgcn.layers`)."""
    expected = json.loads((ROOT / "tests" / "fixtures" / "config_hashes.json").read_text())
    for name, hashes in expected.items():
        config = load_config(ExperimentConfig, ROOT / "configs" / name)
        found = {"run": run_hash(config), "recommender": recommender_hash(config), "family": family_hash(config)}
        assert found == hashes, name


def test_old_flat_keys_still_read_with_a_note_and_hash_as_before(caplog):
    path = ROOT / "configs" / "ml1m_ncf.yaml"
    with caplog.at_level(logging.WARNING, logger="monorec.config.model"):
        old = load_config(ExperimentConfig, path, ["model.hidden=[8, 4]", "model.layers=2"])
    assert caplog.messages == [
        "model.hidden is an old key: read as model.ncf.hidden",
        "model.layers is an old key: read as model.lightgcn.layers",
    ]
    new = load_config(ExperimentConfig, path, ["model.ncf.hidden=[8, 4]", "model.lightgcn.layers=2"])
    assert old == new and old.model.settings.hidden == [8, 4] and run_hash(old) == run_hash(new)
    saved = {"model": {"kind": "mf", "embedding_dim": 20, "hidden": [64, 32, 16], "layers": 3, "module": None}}
    assert upgrade_keys(saved)["model"] == {
        **{"kind": "mf", "embedding_dim": 20, "module": None},
        **{"ncf": {"hidden": [64, 32, 16]}, "lightgcn": {"layers": 3}},
    }  # the config.json of a run or bundle saved before
    with pytest.raises(ConfigError, match=r"model\.layers and model\.lightgcn\.layers are the same setting"):
        upgrade_keys({"model": {"layers": 2, "lightgcn": {"layers": 3}}})
