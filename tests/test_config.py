import pytest

from monorec.config import ExperimentConfig, apply_overrides, config_hash, from_dict, load_config
from monorec.errors import ConfigError


def test_yaml_and_overrides_are_typed(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("model: {kind: ncf, embedding_dim: 8}\ntrain: {lr: 1}\n")
    config = load_config(ExperimentConfig, path, ["train.epochs=3", "model.hidden=[8, 4]", "data.data_dir=/x"])
    assert config.model.kind == "ncf" and config.model.embedding_dim == 8 and config.model.hidden == [8, 4]
    assert config.train.epochs == 3 and config.train.lr == 1.0 and isinstance(config.train.lr, float)
    assert config.data.data_dir == "/x" and config.train.batch_size == 256  # untouched default


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"train": {"epoch": 3}}, "unknown config key 'train.epoch' (did you mean 'epochs'?)"),
        ({"train": {"epochs": "three"}}, "config key 'train.epochs' must be int, got 'three'"),
        ({"train": {"epochs": True}}, "config key 'train.epochs' must be int"),
        ({"model": {"kind": "svd"}}, "config key 'model.kind' must be one of ['mf', 'ncf']"),
        ({"model": {"hidden": [8, "x"]}}, "config key 'model.hidden[1]' must be int"),
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
