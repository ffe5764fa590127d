"""lrdiag.config: defaults, every class of error (file + dotted key + what is allowed), grids."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from lrdiag import config as C
from lrdiag.classify import Thresholds
from lrdiag.config import (
    THRESHOLD_CHECK,
    THRESHOLD_CHECKS,
    config_from_dict,
    config_to_dict,
    load_config,
    load_thresholds,
)
from lrdiag.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str, name: str = "exp.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(d, **kw) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        config_from_dict(d, file="exp.yaml", **kw)
    return info.value


# --- defaults ----------------------------------------------------------------------------------
# Written out by hand from the issue's YAML example (the documented defaults), not read back
# from the dataclasses.
DOCUMENTED_DEFAULTS = {
    "data.kind": "moons",
    "data.n_samples": 1000,
    "data.noise": 0.1,
    "data.n_features": 2,
    "data.n_classes": 2,
    "data.path": None,
    "data.target": None,
    "data.scale": 1.0,
    "data.standardize": False,
    "data.validation_split": 0.0,
    "data.seed": 0,
    "model.hidden": (128, 64),
    "model.layers": None,  # issue 16: the MLP unless a list of layers is given
    "model.activation": "tanh",
    "model.output": "sigmoid",
    "model.loss": "bce",
    "init.scheme": "normal",
    "init.scales": (1.0,),
    "training.optimizer": "sgd",
    "training.momentum": 0.9,  # SGD(momentum) has no default in torch; 0.9 as version 0.1
    # torch.optim's documented defaults (issue 15)
    "training.dampening": 0.0,
    "training.weight_decay": 0.0,
    "training.betas": (0.9, 0.999),
    "training.eps": 1e-8,
    "training.alpha": 0.99,
    "training.centered": False,
    "training.clip_grad_norm": None,  # off
    "training.schedule": C.ScheduleConfig(
        kind="constant", warmup_steps=0, start_factor=1 / 3, min_factor=0.0, unit="step"
    ),  # a constant learning rate; start_factor is LinearLR's default
    "init.path": None,
    "training.batch_size": None,  # full batch
    "training.epochs": 100,
    "training.seeds": (0,),
    "training.dtype": "float32",
    "training.loss_reduction": "mean",
    "sweep.learning_rates": (0.01, 0.1, 1.0),
    # issue 15's other axes: none unless given; the summary compares init scales
    "sweep.optimizer": None,
    "sweep.momentum": None,
    "sweep.weight_decay": None,
    "sweep.warmup_steps": None,
    "sweep.clip_grad_norm": None,
    "sweep.batch_size": None,
    "sweep.compare": None,
    "stability.sharpness": "auto",  # issue 5: full-batch runs only
    "stability.samples": 1024,
    "stability.track_every": None,
    "lints.ignore": (),
    "find.min": 1e-7,  # issue 15: fastai's lr_find defaults
    "find.max": 10.0,
    "find.steps": 100,
    "find.beta": 0.98,
    "find.stop_factor": 4.0,
    "find.sweep_margin": 3.0,
    "find.sweep_per_decade": 5,
}


@pytest.mark.parametrize("dotted, expected", DOCUMENTED_DEFAULTS.items())
def test_documented_default(dotted, expected):
    section, key = dotted.split(".")
    assert getattr(getattr(config_from_dict({}), section), key) == expected


def test_every_option_has_a_documented_default_and_meaning():
    options = {
        f"{name}.{f.name}"
        for name, cls in C.SECTIONS.items()
        if name != "classify"
        for f in dataclasses.fields(cls)
    }
    assert options == set(DOCUMENTED_DEFAULTS)
    for name, cls in C.SECTIONS.items():
        if name != "classify":
            assert all(C.option_help(cls).values()), name


def test_name_defaults_to_file_stem_or_config(tmp_path):
    assert load_config(write(tmp_path, "training: {epochs: 3}\n", "my-run.yaml")).name == "my-run"
    assert config_from_dict({}).name == "config"
    assert config_from_dict({"name": "x"}, file="a/b/c.yaml").name == "x"


def test_empty_sections_mean_defaults(tmp_path):
    cfg = load_config(write(tmp_path, "data:\nmodel:\n"))
    assert cfg.data == C.DataConfig() and cfg.model == C.ModelConfig()


def test_full_issue_example_loads(tmp_path):
    (tmp_path / "data.npz").write_bytes(b"")  # existence is what config checks
    text = """
name: tanh-spike
data:
  kind: file
  n_samples: 1000
  noise: 0.1
  n_features: 2
  n_classes: 2
  path: data.npz
  target: label
  standardize: false
  validation_split: 0.0
  seed: 0
model: {hidden: [128, 64], activation: tanh, output: sigmoid, loss: bce}
init: {scheme: normal, scales: [1.0]}
training: {optimizer: sgd, momentum: 0.9, batch_size: full, epochs: 100, seeds: [0],
           dtype: float32}
sweep: {learning_rates: [0.01, 0.1, 1.0]}
"""
    cfg = load_config(write(tmp_path, text))
    assert cfg.name == "tanh-spike"
    assert cfg.data.path == str(tmp_path / "data.npz")
    assert cfg.training.batch_size is None
    assert cfg.sweep.learning_rates == (0.01, 0.1, 1.0)


@pytest.mark.parametrize("path", sorted((REPO / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_configs_load(path):
    cfg = load_config(path)
    assert cfg.name == path.stem


# --- registries --------------------------------------------------------------------------------
def test_choices_equal_the_registries():
    from lrdiag import data, model, optim

    assert set(C.ACTIVATIONS) == set(model.ACTIVATIONS)
    assert set(C.INIT_SCHEMES) == set(model.INIT_SCHEMES)
    assert set(C.HEADS) == set(model.HEADS)
    assert {o for o, _ in model.HEADS} == set(C.OUTPUTS)
    assert {loss for _, loss in model.HEADS} == set(C.LOSSES)
    assert set(C.OPTIMIZERS) == set(optim.OPTIMIZERS)
    assert set(C.DATA_KINDS) == set(data.GENERATORS) | set(data.BUNDLED) | {"file"}


# --- numbers -----------------------------------------------------------------------------------
def test_yaml_exponent_without_dot_is_a_float(tmp_path):
    # PyYAML (YAML 1.1) reads 1e-4 as the string "1e-4"
    assert yaml.safe_load("x: 1e-4")["x"] == "1e-4"
    text = "sweep: {learning_rates: [1e-4, 3E-2, 2e0]}\ntraining: {momentum: 5e-1}\n"
    cfg = load_config(write(tmp_path, text))
    assert cfg.sweep.learning_rates == (1e-4, 3e-2, 2.0)
    assert cfg.training.momentum == 0.5


def test_an_int_is_fine_where_a_float_is_expected():
    cfg = config_from_dict({"sweep": {"learning_rates": [1, 2]}, "init": {"scales": 3}})
    assert cfg.sweep.learning_rates == (1.0, 2.0)
    assert all(type(x) is float for x in cfg.sweep.learning_rates)
    assert cfg.init.scales == (3.0,)


def test_grid_axes_are_sorted():
    cfg = config_from_dict(
        {"sweep": {"learning_rates": [1.0, 0.01, 0.1]}, "training": {"seeds": [2, 0]}}
    )
    assert cfg.sweep.learning_rates == (0.01, 0.1, 1.0)
    assert cfg.training.seeds == (0, 2)


# --- log-spaced learning rates -----------------------------------------------------------------
@pytest.mark.parametrize(
    "lo, hi, num", [(1e-4, 10.0, 16), (1e-3, 30.0, 8), (0.5, 0.5, 1), (2, 3, 2)]
)
def test_log_spaced_learning_rates(lo, hi, num):
    cfg = config_from_dict({"sweep": {"learning_rates": {"min": lo, "max": hi, "num": num}}})
    lrs = cfg.sweep.learning_rates
    assert len(lrs) == num
    assert lrs[0] == lo and lrs[-1] == hi  # both ends exact
    if num > 1:
        ratio = (hi / lo) ** (1 / (num - 1))  # the constant ratio, from the ends alone
        for a, b in zip(lrs, lrs[1:], strict=False):
            assert b / a == pytest.approx(ratio, rel=1e-12)


def test_log_spaced_decades_come_out_exact():
    cfg = config_from_dict({"sweep": {"learning_rates": {"min": "1e-4", "max": 10, "num": 6}}})
    assert cfg.sweep.learning_rates == (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)


@pytest.mark.parametrize(
    "spec, key, words",
    [
        ({"min": 1, "max": 0.1, "num": 3}, "sweep.learning_rates.min", "<= max"),
        ({"min": 0, "max": 1, "num": 3}, "sweep.learning_rates.min", "in [1e-100, 1e+100]"),
        ({"min": 0.1, "max": 1, "num": 0}, "sweep.learning_rates.num", "in [1, 10,000,000]"),
        ({"min": 0.1, "max": 1, "num": 2.5}, "sweep.learning_rates.num", "integer"),
        ({"min": 0.1, "max": 1, "num": 1}, "sweep.learning_rates.num", "min must equal max"),
        ({"min": 1e-4, "max": 10, "num": 1}, "sweep.learning_rates.num", "0.0001 and 10"),
        ({"min": 0.1, "max": 0.1, "num": 3}, "sweep.learning_rates.num", "num: 1"),
        ({"min": 0.1, "max": 1}, "sweep.learning_rates", "missing num"),
        ({"min": 0.1, "max": 1, "nm": 3}, "sweep.learning_rates.nm", "did you mean 'num'"),
    ],
)
def test_log_spaced_errors(spec, key, words):
    e = error_of({"sweep": {"learning_rates": spec}})
    assert e.key == key and words in e.message and e.file == "exp.yaml"


# --- errors: unknown keys ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "d, key, suggestion",
    [
        ({"trainng": {}}, "trainng", "training"),
        ({"training": {"epoch": 3}}, "training.epoch", "epochs"),
        ({"data": {"n_sample": 3}}, "data.n_sample", "n_samples"),
        ({"model": {"activaton": "relu"}}, "model.activaton", "activation"),
        ({"init": {"scale": [1.0]}}, "init.scale", "scales"),
        ({"sweep": {"learning_rate": [0.1]}}, "sweep.learning_rate", "learning_rates"),
    ],
)
def test_unknown_key_suggests_the_nearest(d, key, suggestion):
    e = error_of(d)
    assert e.key == key
    assert f"did you mean '{suggestion}'" in e.message
    assert "valid keys:" in e.message and "exp.yaml" in str(e) and key in str(e)


def test_unknown_key_without_near_match_lists_valid_keys():
    e = error_of({"training": {"zzzzzz": 1}})
    assert "did you mean" not in e.message
    for k in ("optimizer", "momentum", "batch_size", "epochs", "seeds", "dtype"):
        assert k in e.message


TRAINING_KEYS = [f.name for f in dataclasses.fields(C.TrainingConfig)]


@settings(max_examples=60, deadline=None)
@given(key=st.sampled_from(TRAINING_KEYS), data=st.data())
def test_a_dropped_letter_is_suggested_back(key, data):
    i = data.draw(st.integers(0, len(key) - 1))
    typo = key[:i] + key[i + 1 :]
    if typo in TRAINING_KEYS:
        return
    e = error_of({"training": {typo: 1}})
    assert f"did you mean '{key}'" in e.message


# --- errors: types -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "dotted, value, words",
    [
        ("training.epochs", True, "integer"),  # bool is not an int
        ("training.epochs", 10.0, "integer"),
        ("training.epochs", "10", "integer"),
        ("data.seed", False, "integer"),
        ("data.noise", True, "number"),
        ("data.noise", "lots", "number"),
        ("data.noise", [0.1], "number"),
        ("data.standardize", "yes please", "true or false"),
        ("data.standardize", 1, "true or false"),
        ("model.activation", 3, "string"),
        ("model.hidden", ["a"], "integer"),
        ("training.seeds", [0.5], "integer"),
        ("sweep.learning_rates", [True], "number"),
        ("training.batch_size", 3.0, "'full' or an integer"),
        ("training.batch_size", "half", "'full' or an integer"),
        ("data.path", 3, "file path"),
    ],
)
def test_wrong_type(dotted, value, words):
    section, key = dotted.split(".")
    e = error_of({section: {key: value}})
    assert e.key.startswith(dotted) and words in e.message
    assert repr(value) in e.message or repr(value[0]) in e.message


def test_section_and_top_level_must_be_mappings(tmp_path):
    e = error_of({"training": [1, 2]})
    assert e.key == "training" and "mapping" in e.message
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "- a\n- b\n"))
    assert info.value.file == str(tmp_path / "exp.yaml") and "mapping" in info.value.message


# --- errors: ranges ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "dotted, value, allowed",
    [
        ("data.n_samples", 0, ">= 1"),
        ("data.noise", -0.1, ">= 0"),
        ("data.noise", float("nan"), "finite"),
        ("data.n_features", 0, ">= 1"),
        ("data.n_classes", 1, ">= 2"),
        ("data.validation_split", 1.0, "in [0, 1)"),
        ("data.validation_split", -0.1, "in [0, 1)"),
        ("data.seed", -1, ">= 0"),
        ("model.hidden", [16, 0], ">= 1"),
        ("init.scales", [1.0, 0.0], "in [1e-100, 1e+100]"),
        ("init.scales", [-1.0], "in [1e-100, 1e+100]"),
        ("training.momentum", 1.0, "in [0, 1)"),
        ("training.momentum", -0.5, "in [0, 1)"),
        ("training.epochs", 0, ">= 1"),
        ("training.batch_size", 0, ">= 1"),
        ("training.seeds", [-3], "in [0, 2**53"),
        ("sweep.learning_rates", [0.1, 0], "in [1e-100, 1e+100]"),
        ("sweep.learning_rates", [float("inf")], "finite"),
        ("sweep.learning_rates", [1e400], "finite"),
    ],
)
def test_out_of_range(dotted, value, allowed):
    section, key = dotted.split(".")
    e = error_of({section: {key: value}})
    assert e.key.startswith(dotted) and allowed in e.message and e.file == "exp.yaml"


def test_out_of_range_list_element_names_its_index():
    e = error_of({"sweep": {"learning_rates": [0.1, -1]}})
    assert e.key == "sweep.learning_rates[1]" and "-1" in e.message


@pytest.mark.parametrize("dotted", ["init.scales", "training.seeds", "sweep.learning_rates"])
def test_grid_axes_reject_empty_and_duplicates(dotted):
    section, key = dotted.split(".")
    e = error_of({section: {key: []}})
    assert e.key == dotted and "empty" in e.message
    e = error_of({section: {key: [1, 2, 1]}})
    assert e.key == f"{dotted}[2]" and "duplicate" in e.message


def test_batch_size_full_or_integer():
    assert config_from_dict({"training": {"batch_size": "full"}}).training.batch_size is None
    assert config_from_dict({"training": {"batch_size": 32}}).training.batch_size == 32


def test_empty_hidden_is_a_linear_model():
    assert config_from_dict({"model": {"hidden": []}}).model.hidden == ()


# --- errors: choices ---------------------------------------------------------------------------
CHOICES = {
    "data.kind": ["blobs", "moons", "circles", "spirals", "xor", "linear", "digits", "file"],
    "model.activation": ["relu", "tanh", "sigmoid", "leaky_relu", "identity"],
    "model.output": ["sigmoid", "softmax", "identity"],
    "model.loss": ["bce", "cross_entropy", "mse"],
    "init.scheme": ["uniform01", "normal", "xavier", "he", "lecun"],
    "training.optimizer": ["sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw"],
    "training.dtype": ["float32", "float64"],
}


@pytest.mark.parametrize("dotted, allowed", CHOICES.items())
def test_choice_lists_every_allowed_value(dotted, allowed):
    section, key = dotted.split(".")
    e = error_of({section: {key: "nonsense"}})
    assert e.key == dotted and "'nonsense'" in e.message
    for choice in allowed:
        assert choice in e.message
    for choice in allowed:  # and each allowed value is accepted (with a fitting partner)
        if choice == "file":
            continue  # needs a path: tested below
        d = {section: {key: choice, **PARTNER.get((key, choice), {})}}
        assert getattr(getattr(config_from_dict(d), section), key) == choice


PARTNER = {  # the other half of a valid output/loss pair
    ("output", "softmax"): {"loss": "cross_entropy"},
    ("output", "identity"): {"loss": "mse"},
    ("loss", "cross_entropy"): {"output": "softmax"},
    ("loss", "mse"): {"output": "identity"},
}


def test_choice_typo_is_suggested():
    e = error_of({"model": {"activation": "rleu"}})
    assert "did you mean 'relu'" in e.message


VALID_PAIRS = [
    ("sigmoid", "bce"),
    ("softmax", "cross_entropy"),
    ("identity", "mse"),
    ("sigmoid", "mse"),
    ("sigmoid", "cross_entropy"),  # tf.keras's meaning: softmax cross-entropy of the logits
]


@pytest.mark.parametrize("output", ["sigmoid", "softmax", "identity"])
@pytest.mark.parametrize("loss", ["bce", "cross_entropy", "mse"])
def test_output_loss_pairs(output, loss):
    d = {"model": {"output": output, "loss": loss}}
    if (output, loss) in VALID_PAIRS:
        assert config_from_dict(d).model.loss == loss
        return
    e = error_of(d)
    assert e.key == "model.loss"
    for o, lo in VALID_PAIRS:
        assert f"{o}+{lo}" in e.message


# --- data options across keys ------------------------------------------------------------------
def test_data_path_is_relative_to_the_config(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.csv").write_text("a,y\n1,0\n")
    cfg = load_config(write(tmp_path, "data: {kind: file, path: sub/d.csv}\n"))
    assert cfg.data.path == str(tmp_path / "sub" / "d.csv")
    cfg = config_from_dict({"data": {"kind": "file", "path": "sub/d.csv"}}, base_dir=tmp_path)
    assert Path(cfg.data.path) == tmp_path / "sub" / "d.csv"


def test_missing_data_file(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "data: {kind: file, path: nowhere.npz}\n"))
    e = info.value
    assert e.key == "data.path" and "nowhere.npz" in e.message and e.file.endswith("exp.yaml")


def test_data_file_suffix_and_presence(tmp_path):
    (tmp_path / "d.txt").write_text("1\n")
    e = error_of({"data": {"kind": "file", "path": "d.txt"}}, base_dir=tmp_path)
    assert e.key == "data.path" and ".npz" in e.message and ".csv" in e.message
    e = error_of({"data": {"kind": "file"}})
    assert e.key == "data.path"


def test_file_options_only_with_kind_file():
    e = error_of({"data": {"kind": "moons", "target": "y"}})
    assert e.key == "data.target" and "kind: file" in e.message


@pytest.mark.parametrize(
    "data, key",
    [
        ({"kind": "moons", "n_features": 3}, "data.n_features"),
        ({"kind": "spirals", "n_features": 5}, "data.n_features"),
        ({"kind": "circles", "n_classes": 3}, "data.n_classes"),
        ({"kind": "xor", "n_samples": 3}, "data.n_samples"),
        ({"kind": "blobs", "n_classes": 5, "n_samples": 4}, "data.n_samples"),
        ({"kind": "moons", "n_samples": 1}, "data.n_samples"),
    ],
)
def test_kind_specific_limits(data, key):
    assert error_of({"data": data}).key == key


def test_blobs_and_spirals_take_any_class_count():
    cfg = config_from_dict({"data": {"kind": "spirals", "n_classes": 5, "n_samples": 5}})
    assert cfg.data.n_classes == 5


# --- name --------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["", "a/b", "..", 3, None])
def test_bad_names(bad):
    assert error_of({"name": bad}).key == "name"


# --- the classify section, generically from Thresholds -----------------------------------------
THRESHOLD_FIELDS = dataclasses.fields(Thresholds)


@pytest.mark.parametrize("f", THRESHOLD_FIELDS, ids=lambda f: f.name)
def test_classify_section_accepts_each_threshold(f):
    cfg = config_from_dict({"classify": {f.name: f.default}})
    assert getattr(cfg.classify, f.name) == f.default
    assert config_from_dict({}).classify == Thresholds()


def test_classify_section_rejects_unknown_and_suggests():
    name = THRESHOLD_FIELDS[0].name
    e = error_of({"classify": {name + "x": 1}})
    assert e.key == f"classify.{name}x" and f"did you mean '{name}'" in e.message


def test_classify_section_checks_types():
    f = next(f for f in THRESHOLD_FIELDS if isinstance(f.default, float | int))
    e = error_of({"classify": {f.name: "plenty"}})
    assert e.key == f"classify.{f.name}" and "plenty" in e.message


@pytest.mark.parametrize("f", THRESHOLD_FIELDS, ids=lambda f: f.name)
def test_classify_section_rejects_negative_thresholds(f):
    """docs/verdicts.md: out-of-range values are errors. No threshold (a fraction, a count, a number
    of standard deviations) means anything below 0; window_frac: -1 was silently accepted."""
    bad = -1 if isinstance(f.default, int) else -0.5
    e = error_of({"classify": {f.name: bad}})
    allowed = THRESHOLD_CHECKS.get(f.name, THRESHOLD_CHECK).allowed
    assert e.key == f"classify.{f.name}" and allowed in e.message and str(bad) in e.message
    if f.name not in THRESHOLD_CHECKS or THRESHOLD_CHECKS[f.name].ok(0):
        assert getattr(config_from_dict({"classify": {f.name: 0}}).classify, f.name) == 0


@pytest.mark.parametrize(
    ("name", "bad", "allowed"),
    [
        ("osc_alternation", 2, "in [0, 1]"),
        ("window_frac", 1.5, "in [0, 1]"),
        ("smooth_frac", 5, "in [0, 1]"),
        ("growth_steps", 0, ">= 1"),
        ("min_window", 0, ">= 1"),
    ],
)
def test_classify_section_rejects_thresholds_that_mean_nothing(name, bad, allowed):
    """A share of the steps above 1, or a count of points of 0, was accepted in silence (a QA
    pass): each is an error naming the key and what is allowed."""
    e = error_of({"classify": {name: bad}})
    assert e.key == f"classify.{name}" and allowed in e.message


def test_classify_file_for_lrdiag_classify_rejects_negative_thresholds(tmp_path):
    path = tmp_path / "th.yaml"
    path.write_text("classify: {noise_snr: -3}\n")
    with pytest.raises(ConfigError) as info:
        load_thresholds(path)
    assert info.value.key == "classify.noise_snr" and info.value.file == str(path)


# --- YAML files --------------------------------------------------------------------------------
def test_missing_and_empty_files(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "absent.yaml")
    assert "absent.yaml" in str(info.value)
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "\n# only a comment\n"))
    assert "empty" in info.value.message and info.value.file.endswith("exp.yaml")


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "data:\n  kind: moons\nmodel: [1, 2\n"))
    assert info.value.file.endswith("exp.yaml") and "line " in info.value.message


def test_duplicate_yaml_key_is_an_error(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, "training:\n  epochs: 3\n  epochs: 4\n"))
    assert "twice" in info.value.message and "line 3" in info.value.message


# --- round trip --------------------------------------------------------------------------------
def test_round_trip_through_json(tmp_path):
    (tmp_path / "d.csv").write_text("a,y\n1,0\n2,1\n")
    text = """
data: {kind: file, path: d.csv, validation_split: 0.25, standardize: true}
model: {hidden: [4, 3], activation: relu, output: sigmoid, loss: mse}
init: {scheme: he, scales: [0.5, 2]}
training: {optimizer: momentum, momentum: 0.5, batch_size: 16, epochs: 7, seeds: [3, 1]}
sweep: {learning_rates: {min: 1e-3, max: 1, num: 4}}
"""
    cfg = load_config(write(tmp_path, text))
    d = json.loads(json.dumps(config_to_dict(cfg)))  # JSON-able
    assert d["sweep"]["learning_rates"] == list(cfg.sweep.learning_rates)
    assert config_from_dict(d, file=cfg.source) == cfg
    assert config_from_dict(d, file=cfg.source, base_dir="/elsewhere") == cfg  # absolute path


def test_round_trip_full_batch():
    cfg = config_from_dict({})
    d = config_to_dict(cfg)
    assert d["training"]["batch_size"] == "full"
    assert config_from_dict(d) == cfg


_small_floats = st.floats(1e-6, 1e3, allow_nan=False, allow_infinity=False)


@settings(max_examples=80, deadline=None)
@given(
    kind=st.sampled_from(["blobs", "moons", "circles", "spirals", "xor", "linear"]),
    n=st.integers(8, 500),
    noise=st.floats(0, 2),
    hidden=st.lists(st.integers(1, 64), max_size=3),
    activation=st.sampled_from(CHOICES["model.activation"]),
    pair=st.sampled_from(VALID_PAIRS),
    scheme=st.sampled_from(CHOICES["init.scheme"]),
    scales=st.lists(_small_floats, min_size=1, max_size=4, unique=True),
    optimizer=st.sampled_from(["sgd", "momentum"]),
    beta=st.floats(0, 0.999),
    batch=st.one_of(st.just("full"), st.integers(1, 256)),
    epochs=st.integers(1, 1000),
    seeds=st.lists(st.integers(0, 2**31), min_size=1, max_size=4, unique=True),
    lrs=st.lists(_small_floats, min_size=1, max_size=6, unique=True),
    split=st.floats(0, 0.9),
)
def test_random_valid_dicts_load_and_round_trip(
    kind, n, noise, hidden, activation, pair, scheme, scales, optimizer, beta, batch, epochs,
    seeds, lrs, split,
):  # fmt: skip
    d = {
        "data": {"kind": kind, "n_samples": n, "noise": noise, "validation_split": split},
        "model": {"hidden": hidden, "activation": activation, "output": pair[0], "loss": pair[1]},
        "init": {"scheme": scheme, "scales": scales},
        "training": {
            "optimizer": optimizer,
            "momentum": beta,
            "batch_size": batch,
            "epochs": epochs,
            "seeds": seeds,
        },
        "sweep": {"learning_rates": [str(x) for x in lrs]},  # numbers as YAML strings too
    }
    cfg = config_from_dict(d)
    assert cfg.sweep.learning_rates == tuple(sorted(lrs))
    assert cfg.training.seeds == tuple(sorted(seeds))
    assert cfg.training.batch_size == (None if batch == "full" else batch)
    assert all(math.isfinite(x) for x in cfg.init.scales)
    assert config_from_dict(json.loads(json.dumps(config_to_dict(cfg)))) == cfg


@pytest.mark.parametrize(
    ("text", "expected"),
    [("on", "on"), ("off", "off"), ("auto", "auto"), ("yes", "on"), ("no", "off")],
)
def test_yaml_on_off_for_sharpness_are_words_not_booleans(tmp_path, text, expected):
    # YAML 1.1 reads a bare on/off/yes/no as a boolean; the user meant the word
    cfg = load_config(write(tmp_path, f"stability: {{sharpness: {text}}}\n"))
    assert cfg.stability.sharpness == expected


def test_stability_errors_name_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"stability\.track_every.*>= 1"):
        load_config(write(tmp_path, "stability: {track_every: 0}\n"))
    with pytest.raises(ConfigError, match=r"stability\.sharpness.*auto, on, off"):
        load_config(write(tmp_path, "stability: {sharpness: sometimes}\n"))


@pytest.mark.parametrize(
    "training, noted",
    [
        ({"optimizer": "sgd", "momentum": 0.9}, True),  # the issue's own example does this
        ({"momentum": 0.5}, True),  # sgd by default
        ({"optimizer": "momentum", "momentum": 0.9}, False),
        ({"optimizer": "momentum"}, False),
        ({"optimizer": "sgd"}, False),
    ],
)
def test_momentum_beside_sgd_is_noted_not_an_error(training, noted):
    cfg = C.config_from_dict({"training": training})
    if noted:
        (note,) = cfg.notes
        assert "training.momentum" in note and "unused" in note and "optimizer: momentum" in note
    else:
        assert cfg.notes == ()
    # a note is not part of the config: it round-trips to an equal Config
    assert C.config_from_dict(C.config_to_dict(cfg)) == cfg


# --- hostile files (issue 12) ------------------------------------------------------------------
LAUGHS = "".join(
    f"{a}: &{a} [{', '.join([f'*{p}'] * 9 if p else ['lol'] * 9)}]\n"
    for p, a in zip(["", *"abcdef"], "abcdefg", strict=True)
)


@pytest.mark.parametrize("where", ["", "training:\n  seeds: *g\n"])
def test_an_alias_bomb_is_refused_before_its_values_are_built(tmp_path, where):
    """458 bytes of nested aliases made an error line of 2.1 GB (13.7 GB of memory)."""
    path = write(tmp_path, LAUGHS + where)
    assert path.stat().st_size < 600
    with pytest.raises(ConfigError, match="aliases expand to more than") as info:
        load_config(path)
    assert len(str(info.value)) < 300
    with pytest.raises(ConfigError, match="aliases expand"):
        load_thresholds(path)


def test_an_alias_that_contains_itself_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="refers to the value it is in"):
        load_config(write(tmp_path, "training: &t\n  seeds: [*t]\n"))


def test_aliases_that_expand_modestly_still_work(tmp_path):
    cfg = load_config(
        write(tmp_path, "init: {scales: &s [1.0, 2.0]}\nsweep:\n  learning_rates: *s\n")
    )
    assert cfg.sweep.learning_rates == (1.0, 2.0)


@pytest.mark.parametrize(
    "text",
    [
        "training:\n  epochs: [" + "1, " * 20_000 + "]\n",  # a long list in a message
        "name: " + "n" * 100_000 + "\ndata: {kind: " + "k" * 50_000 + "}\n",
        "data: {kind: " + "k" * 50_000 + "}\n",
        "? " + "k" * 50_000 + "\n: 1\n",  # an unknown key
    ],
)
def test_an_error_quotes_at_most_200_characters_of_a_value(tmp_path, text):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    assert len(str(info.value)) < 700, str(info.value)[:300]


def test_a_config_of_unbounded_size_is_refused(tmp_path):
    path = write(tmp_path, "# " + "x" * (C.MAX_CONFIG_BYTES + 10) + "\n")
    with pytest.raises(ConfigError, match="larger than 1 MiB"):
        load_config(path)
    if Path("/dev/zero").exists():
        with pytest.raises(ConfigError, match="larger than 1 MiB"):
            load_config("/dev/zero")
        with pytest.raises(ConfigError, match="larger than 1 MiB"):
            load_thresholds("/dev/zero")


@pytest.mark.parametrize(
    "text, words",
    [
        ("? [a, b]\n: 1\n", "a key must be a plain name"),  # a YAML complex key
        ("training:\n  ? {a: 1}\n  : 1\n", "a key must be a plain name"),
        ("training: {seeds: [" + "7" * 5000 + "]}\n", "invalid YAML"),  # past int's digit limit
        ("[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
    ],
)
def test_yaml_that_python_cannot_build_is_a_config_error(tmp_path, text, words):
    with pytest.raises(ConfigError, match=words):
        load_config(write(tmp_path, text))


@pytest.mark.parametrize(
    "d, key",
    [
        ({"sweep": {"learning_rates": [1e295]}}, "sweep.learning_rates[0]"),
        ({"sweep": {"learning_rates": [1e-310]}}, "sweep.learning_rates[0]"),
        (
            {"sweep": {"learning_rates": {"min": 1e-310, "max": 1, "num": 3}}},
            "sweep.learning_rates.min",
        ),
        (
            {"sweep": {"learning_rates": {"min": 0.1, "max": 1, "num": 10**9}}},
            "sweep.learning_rates.num",
        ),
        ({"init": {"scales": [1e300]}}, "init.scales[0]"),
        ({"training": {"seeds": [9223372036854775807]}}, "training.seeds[0]"),
    ],
)
def test_values_that_overflow_later_are_refused_at_load_time(d, key):
    """They were accepted, then crashed training or the plots after results.json: exit 3."""
    assert error_of(d).key == key


def test_a_log_spaced_range_with_equal_values_is_refused():
    spec = {"min": 1.0, "max": 1.0 + 4e-16, "num": 5}
    e = error_of({"sweep": {"learning_rates": spec}})
    assert e.key == "sweep.learning_rates.num" and "not all distinct" in e.message


# --- issue 15: the optimizers' keys ------------------------------------------------------------
@pytest.mark.parametrize(
    "optimizer, momentum, weight_decay",
    # torch.optim's defaults: RMSprop(momentum=0), AdamW(weight_decay=0.01), the others 0
    [("sgd", 0.9, 0.0), ("momentum", 0.9, 0.0), ("nesterov", 0.9, 0.0),
     ("rmsprop", 0.0, 0.0), ("adam", 0.0, 0.0), ("adamw", 0.0, 0.01)],
)  # fmt: skip
def test_null_means_the_optimizers_own_default(optimizer, momentum, weight_decay):
    t = config_from_dict({"training": {"optimizer": optimizer}}).training
    assert (t.momentum, t.weight_decay) == (momentum, weight_decay)
    t = config_from_dict({"training": {"optimizer": optimizer, "weight_decay": 0.5}}).training
    assert t.weight_decay == 0.5


@pytest.mark.parametrize(
    "training, key, words",
    [
        ({"betas": [0.9]}, "training.betas", "two numbers"),
        ({"betas": [0.9, 1.0]}, "training.betas[1]", "in [0, 1)"),
        ({"betas": "fast"}, "training.betas[0]", "number"),
        ({"eps": 0}, "training.eps", "> 0"),
        ({"weight_decay": -1}, "training.weight_decay", ">= 0"),
        ({"alpha": 1.5}, "training.alpha", "in [0, 1]"),
        ({"centered": "yes"}, "training.centered", "true or false"),
        ({"optimizer": "nesterov", "dampening": 0.1}, "training.dampening", "dampening 0"),
        ({"optimizer": "adagrad"}, "training.optimizer", "adamw"),
    ],
)
def test_optimizer_key_errors_name_the_key(training, key, words):
    e = error_of({"training": training})
    assert e.key == key and words in e.message, e.message


def test_a_key_the_optimizer_does_not_read_is_noted():
    cfg = config_from_dict({"training": {"optimizer": "sgd", "betas": [0.8, 0.9], "eps": 1e-6}})
    assert len(cfg.notes) == 2 and all("adam" in n for n in cfg.notes)
    assert config_from_dict({"training": {"optimizer": "adam", "betas": [0.8, 0.9]}}).notes == ()
    assert config_from_dict(config_to_dict(cfg)) == cfg
