import pytest

from monorec.config import ExperimentConfig, apply_overrides, config_hash, load_config
from monorec.errors import ConfigError
from monorec.typed import from_dict


def test_yaml_and_overrides_are_typed(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: {kind: ncf, embedding_dim: 8}\ntrain: {lr: 1}\n")
    config = load_config(ExperimentConfig, path, ["train.epochs=3", "model.ncf.hidden=[8, 4]", "data.data_dir=/x"])
    assert config.model.kind == "ncf" and config.model.embedding_dim == 8 and config.model.ncf.hidden == [8, 4]
    assert config.train.epochs == 3 and config.train.lr == 1.0 and isinstance(config.train.lr, float)
    assert config.data.data_dir == "/x" and config.train.batch_size == 256  # untouched default


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"train": {"epoch": 3}}, "unknown config key 'train.epoch' (did you mean 'epochs'?)"),
        ({"train": {"epochs": "three"}}, "config key 'train.epochs' must be int, got 'three'"),
        ({"train": {"epochs": True}}, "config key 'train.epochs' must be int"),
        ({"model": {"kind": "svd"}}, "unknown model.kind 'svd': one of mf, ncf, lightgcn, als,"),
        ({"model": {"ncf": {"hidden": [8, "x"]}}}, "config key 'model.ncf.hidden[1]' must be int"),
        ({"model": {"lightgcn": {"layers": 0}}}, "model.lightgcn.layers must be >= 1, got 0"),
        ({"data": 3}, "data: expected a mapping"),
    ],
)
def test_bad_config_names_the_key(values, message):
    with pytest.raises(ConfigError) as error:
        from_dict(ExperimentConfig, values)
    assert message in str(error.value)


def test_bad_override_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="expects key=value"):
        apply_overrides({}, ["train.epochs"])
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(ExperimentConfig, tmp_path / "none.yaml")
    (tmp_path / "bad.yaml").write_text("train: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(ExperimentConfig, tmp_path / "bad.yaml")


def test_config_hash_changes_with_any_setting():
    base = load_config(ExperimentConfig, None)
    assert config_hash(base) == config_hash(load_config(ExperimentConfig, None))
    assert config_hash(base) != config_hash(load_config(ExperimentConfig, None, ["train.seed=1"]))


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("sae_train.beta=-0.5", "sae_train.beta must be >= 0, got -0.5"),
        ("sae_train.rho=1.5", "sae_train.rho must be in (0, 1), got 1.5"),
        ("sae.matryoshka=[12, 6, 22]", "sae.matryoshka must be increasing sizes ending at sae.n_latents=22"),
        ("sae.matryoshka=[6, 12]", "sae.matryoshka must be increasing sizes ending at sae.n_latents=22"),
        ("sae.activation=topk", None),
        ("ray.num_workers=-1", "ray.num_workers must be >= 0"),
        ("train.lr=0", "train.lr must be > 0"),
        ("tune.weight=2", "tune.weight must be in [0, 1]"),
        (
            "tune.activation=[relu, gelu]",
            "config key 'tune.activation[1]' must be one of ['relu', 'topk', 'batchtopk']",
        ),
    ],
)
def test_semantic_checks_run_when_any_config_is_loaded(override, message):
    """Every job loads configs this way: a bad value stops it before any data is read."""
    if message is None:  # a valid value for comparison: topk with the default k = 4 <= 22
        assert load_config(ExperimentConfig, None, [override]).sae.activation == "topk"
        return
    with pytest.raises(ConfigError) as error:
        load_config(ExperimentConfig, None, [override])
    assert message in str(error.value)


def test_topk_k_cannot_exceed_the_dictionary():
    with pytest.raises(ConfigError, match=r"sae.k must be in 1..22 for topk, got 30"):
        load_config(ExperimentConfig, None, ["sae.activation=topk", "sae.k=30"])
