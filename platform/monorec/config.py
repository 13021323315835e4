"""Typed configs: YAML files plus `--set key=value` overrides, validated against dataclasses.

Every setting lives in a dataclass with a default, so a YAML file only states what differs.
Unknown keys and wrong types fail early with a message naming the dotted key, because a typo
in a config should never silently fall back to a default.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import types
import typing
from pathlib import Path
from typing import Any, Literal, TypeVar, Union

import yaml

from monorec.errors import ConfigError

T = TypeVar("T")


@dataclasses.dataclass
class LastfmOptions:
    """How Last.FM artists get concepts from user tags (rule documented in `data.lastfm`)."""

    vocabulary_size: int = 50
    tags_per_artist: int = 3


@dataclasses.dataclass
class GenericOptions:
    """Bring-your-own data: an interaction file and an optional item table (CSV, TSV or parquet)."""

    interactions_path: str = ""
    user_col: str = "user_id"
    item_col: str = "item_id"
    timestamp_col: str | None = None
    items_path: str | None = None
    item_id_col: str = "item_id"
    name_col: str | None = None
    concepts_col: str | None = None
    concepts_sep: str = "|"
    year_col: str | None = None


@dataclasses.dataclass
class SyntheticOptions:
    """Planted structure for tests and quick runs (see `data.synthetic`)."""

    n_users: int = 600
    n_items: int = 300
    n_genres: int = 6
    genres_per_user: int = 2
    interactions_per_user: int = 30
    genre_affinity: float = 12.0
    popularity_exponent: float = 1.0
    seed: int = 0


@dataclasses.dataclass
class DataConfig:
    """Which dataset, where its files are, how it is filtered and split."""

    dataset: Literal["ml1m", "lastfm", "generic", "synthetic"] = "synthetic"
    data_dir: str | None = None
    min_users_per_item: int = 1
    min_items_per_user: int = 1
    holdout: int = 5
    test_negatives: int = 5
    min_train_positives: int = 5
    split_seed: int = 0
    lastfm: LastfmOptions = dataclasses.field(default_factory=LastfmOptions)
    generic: GenericOptions = dataclasses.field(default_factory=GenericOptions)
    synthetic: SyntheticOptions = dataclasses.field(default_factory=SyntheticOptions)


@dataclasses.dataclass
class ModelConfig:
    """The two-tower recommender: MF (dot product + biases) or NCF (MLP over the concatenation)."""

    kind: Literal["mf", "ncf"] = "mf"
    embedding_dim: int = 20
    hidden: list[int] = dataclasses.field(default_factory=lambda: [64, 32, 16])


@dataclasses.dataclass
class TrainConfig:
    """Optimisation settings for BCE training on positives plus re-drawn sampled negatives.

    num_workers > 0 runs recommender and SAE training under Ray Train with that many
    data-parallel workers (GPUs when use_gpu), retrying a failed run up to max_failures times
    from its last checkpoint; 0 trains in this process without Ray.
    """

    epochs: int = 10
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 0.0
    negative_sampling: Literal["uniform", "popularity"] = "uniform"
    seed: int = 0
    device: str = "auto"
    num_workers: int = 0
    use_gpu: bool = False
    max_failures: int = 2


@dataclasses.dataclass
class EvalConfig:
    """Ranking evaluation: cut-off K and how many users are scored per chunk."""

    k: int = 10
    chunk_size: int = 1024


@dataclasses.dataclass
class SAEConfig:
    """The sparse autoencoder shared by user and item embeddings (METHOD.md section 2).

    n_latents: dictionary size m (22 for ML-1M, 70 for Last.FM). activation: `relu` (the paper's,
    with L1/KL sparsity), `topk` or `batchtopk` (keep the k largest per vector / per batch).
    matryoshka: nested prefix sizes m_1 < ... < m_n = m (empty = plain SAE).
    """

    n_latents: int = 22
    activation: Literal["relu", "topk", "batchtopk"] = "relu"
    k: int = 4
    tied: bool = True
    matryoshka: list[int] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class SAETrainConfig:
    """L_total = alpha L_emb + beta L_pred + lambda1 L1 + lambda2 KL(rho) (METHOD.md section 3)."""

    alpha: float = 1.0
    beta: float = 0.1
    lambda1: float = 0.0
    lambda2: float = 0.01
    rho: float = 0.05
    epochs: int = 18
    batch_size: int = 256
    lr: float = 1e-3
    seed: int = 0
    device: str = "auto"
    validation_users: int = 500


@dataclasses.dataclass
class InterpretConfig:
    """Neuron interpretation: purity cut-offs, labelling and the intervention case studies."""

    purity_k: list[int] = dataclasses.field(default_factory=lambda: [10, 20, 50])
    label_k: int = 20
    label_threshold: float = 0.5
    popular_share: float = 0.1
    long_tail_share: float = 0.5
    ms_top_n: int = 30
    fidelity_k: int = 20
    rbo_p: float = 0.9


@dataclasses.dataclass
class CaseStudyConfig:
    """The intervention case studies run after every SAE (METHOD.md section 5).

    Filtering suppresses `filter_concept`'s best neuron for the `filter_users` test users whose
    top-10 holds most of it (the purest concept when the data has none by that name). Promotion
    raises the `promote_concept` neuron of the item named `promote_item` (the concept's most
    popular item when it is null or absent) for the test users whose most frequent concept is one of `audiences`, and
    reports its rank among their top-`promote_k`; it is skipped when the data lacks the concept.
    Popularity control suppresses the popularity neuron for every test user.
    """

    filter_concept: str = "Horror"
    filter_users: int = 50
    promote_item: str | None = "Bob Dylan"
    promote_concept: str = "Folk"
    audiences: list[str] = dataclasses.field(default_factory=lambda: ["Metal", "Pop"])
    promote_k: int = 30


@dataclasses.dataclass
class SearchRange:
    """A log-uniform (or uniform) range for one SAE loss weight."""

    low: float
    high: float
    log: bool = True


@dataclasses.dataclass
class TuneSettings:
    """The SAE search of `jobs/tune_sae.py` (objective documented in `monorec.tuning`)."""

    search: dict[str, SearchRange] = dataclasses.field(
        default_factory=lambda: {
            "alpha": SearchRange(0.1, 10.0),
            "beta": SearchRange(0.01, 10.0),
            "lambda1": SearchRange(1e-5, 1e-1),
            "lambda2": SearchRange(1e-4, 1e-1),
            "rho": SearchRange(0.01, 0.2),
        }
    )
    n_latents: list[int] = dataclasses.field(default_factory=list)
    activation: list[str] = dataclasses.field(default_factory=list)
    num_samples: int = 16
    max_concurrent_trials: int = 2
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    monosemanticity: Literal["ms", "purity"] = "ms"
    weight: float = 0.5
    max_dead_ratio: float = 0.5
    grace_period: int = 3
    storage_path: str | None = None  # None: <MONOREC_HOME>/ray_results
    name: str = "tune_sae"
    seed: int = 0


@dataclasses.dataclass
class TrackingSettings:
    """MLflow: the tracking URI (default: a local SQLite store, see `monorec.tracking`)."""

    uri: str | None = None
    register_alias: str = "champion"


@dataclasses.dataclass
class ExperimentConfig:
    """One config file per dataset x model: the recommender's settings, then the SAE's.

    Every job reads the same file and uses the sections it needs, so the SAE job trains exactly
    the recommender that `jobs/train_recommender.py` would.
    """

    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    eval: EvalConfig = dataclasses.field(default_factory=EvalConfig)
    sae: SAEConfig = dataclasses.field(default_factory=SAEConfig)
    sae_train: SAETrainConfig = dataclasses.field(default_factory=SAETrainConfig)
    interpret: InterpretConfig = dataclasses.field(default_factory=InterpretConfig)
    case_studies: CaseStudyConfig = dataclasses.field(default_factory=CaseStudyConfig)
    tune: TuneSettings = dataclasses.field(default_factory=TuneSettings)
    tracking: TrackingSettings = dataclasses.field(default_factory=TrackingSettings)


@dataclasses.dataclass
class ReproduceConfig:
    """`jobs/reproduce.py`: the paper's experiments over several dataset x model cells.

    cells: experiment configs (paths relative to this file), one per dataset x model. For each,
    one recommender, then SAEs for every beta in `betas` and seed in `seeds` (the seed is the
    SAE's: the recommender is shared so that the ablation isolates beta), plus a Matryoshka SAE
    (prefixes at `matryoshka_fractions` of m) and a TopK SAE (k = `topk_fraction` of m) at the
    config's own beta and the first seed. `overrides` apply to every cell (`--set` syntax).
    """

    cells: list[str] = dataclasses.field(
        default_factory=lambda: ["ml1m_mf.yaml", "ml1m_ncf.yaml", "lastfm_mf.yaml", "lastfm_ncf.yaml"]
    )
    seeds: list[int] = dataclasses.field(default_factory=lambda: [0, 1, 2])
    betas: list[float] = dataclasses.field(default_factory=lambda: [0.0, 0.1, 1.0])
    matryoshka_fractions: list[float] = dataclasses.field(default_factory=lambda: [0.25, 0.5, 1.0])
    topk_fraction: float = 0.2
    overrides: list[str] = dataclasses.field(default_factory=list)


def from_dict(cls: type[T], values: Any, key: str = "") -> T:
    """Build dataclass `cls` from nested dicts, naming the dotted key of any unknown or bad value."""
    if not isinstance(values, dict):
        raise ConfigError(f"{key or 'config'}: expected a mapping, got {type(values).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for name, value in values.items():
        dotted = f"{key}.{name}" if key else str(name)
        if name not in fields:
            close = difflib.get_close_matches(str(name), fields, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"unknown config key '{dotted}'{hint}; known keys: {sorted(fields)}")
        kwargs[name] = _coerce(hints[name], value, dotted)
    return cls(**kwargs)


def _coerce(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, key)
    if origin in (Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in (o for o in options if o is not type(None)):
            try:
                return _coerce(option, value, key)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0])
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise ConfigError(f"config key '{key}' must be one of {list(allowed)}, got {value!r}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"config key '{key}' must be a list, got {value!r}")
        (item_type,) = typing.get_args(tp)
        return [_coerce(item_type, v, f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"config key '{key}' must be a mapping, got {value!r}")
        _, value_type = typing.get_args(tp)
        return {str(k): _coerce(value_type, v, f"{key}.{k}") for k, v in value.items()}
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp in (int, float, str, bool) and (type(value) is tp):
        return value
    raise ConfigError(f"config key '{key}' must be {getattr(tp, '__name__', tp)}, got {value!r}")


def apply_overrides(values: dict, overrides: list[str]) -> dict:
    """Apply `a.b.c=value` strings (value parsed as YAML) to a nested dict, returning a new dict."""
    result = json.loads(json.dumps(values))
    for override in overrides:
        dotted, sep, raw = override.partition("=")
        if not sep or not dotted.strip():
            raise ConfigError(f"--set expects key=value, got {override!r}")
        *parents, leaf = dotted.strip().split(".")
        node = result
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"--set {dotted}: '{part}' is not a section")
        node[leaf] = yaml.safe_load(raw) if raw.strip() else None
    return result


def load_config(cls: type[T], path: str | Path | None, overrides: list[str] = ()) -> T:
    """Read a YAML config file (or only defaults when `path` is None) and apply overrides.

    A file may start from another with `base: other.yaml` (relative to the file): the base is
    read first and this file's values are merged over it, section by section.
    """
    values = _read_yaml(Path(path)) if path is not None else {}
    return from_dict(cls, apply_overrides(values, list(overrides)))


def _read_yaml(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    if path.resolve() in seen:
        raise ConfigError(f"config files include each other: {' -> '.join(map(str, seen + (path,)))}")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping of config sections")
    base = values.pop("base", None)
    if base is None:
        return values
    return _merge(_read_yaml(path.parent / base, seen + (path.resolve(),)), values)


def _merge(base: dict, override: dict) -> dict:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def to_dict(config: Any) -> dict:
    return dataclasses.asdict(config)


def config_hash(config: Any) -> str:
    """A stable short hash of a config: the cache key for artifacts derived from it."""
    canonical = json.dumps(to_dict(config) if dataclasses.is_dataclass(config) else config, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def recommender_hash(config: ExperimentConfig) -> str:
    """Hash of the sections that determine the recommender: SAE settings do not retrain it."""
    return config_hash({name: to_dict(getattr(config, name)) for name in ("data", "model", "train", "eval")})
