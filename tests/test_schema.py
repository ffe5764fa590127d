"""`lrdiag schema NAME` (issue 17): JSON Schemas (draft 2020-12) checked with jsonschema, a
dev-only library that knows nothing of lrdiag.

The config schema is held against the config loader itself: every shipped config validates,
and documents the loader refuses (an unknown key, a value out of range, a choice misspelt) the
schema refuses too. The results schema is held against real sweeps (tests/conftest.py also
validates every results.json the tests write); its version against a stored copy.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from click.testing import CliRunner

from lrdiag import config, results
from lrdiag.cli import cli
from lrdiag.errors import ConfigError
from tests.conftest import schema_errors

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = sorted((ROOT / "configs").glob("*.yaml"))
STORED = ROOT / "tests" / "data" / "schema" / "results.schema.json"


def _schema(name: str) -> dict:
    result = CliRunner().invoke(cli, ["schema", name])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    return schema


@pytest.fixture(scope="module")
def config_validator():
    return jsonschema.Draft202012Validator(_schema("config"))


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_every_shipped_config_validates(config_validator, path):
    assert schema_errors(config_validator, yaml.safe_load(path.read_text())) == []


QUICKSTART = yaml.safe_load((ROOT / "configs" / "quickstart.yaml").read_text())

# (a change to the quickstart, the key the loader names): both must refuse it.
REFUSED = [
    (lambda d: d["model"].update(activaton="tanh"), "model.activaton"),
    (lambda d: d.update(modle={}), "modle"),
    (lambda d: d["model"].update(activation="gelu"), "model.activation"),
    (lambda d: d["training"].update(epochs=0), "training.epochs"),
    (lambda d: d["training"].update(epochs=2.5), "training.epochs"),
    (lambda d: d["training"].update(batch_size="half"), "training.batch_size"),
    (lambda d: d["data"].update(validation_split=1.0), "data.validation_split"),
    (lambda d: d["data"].update(standardize="yes"), "data.standardize"),
    (lambda d: d["sweep"].update(learning_rates={"min": 1e-4, "max": 1}), "sweep.learning_rates"),
    (lambda d: d["sweep"].update(learning_rates=[0.1, -1.0]), "sweep.learning_rates[1]"),
    (lambda d: d["init"].update(scheme=["xavier", "glorot"]), "init.scheme"),
    (lambda d: d["init"].update(scheme=["xavier", "file"]), "init.scheme"),
    (lambda d: d.update(classify={"osc_alternation": 1.5}), "classify.osc_alternation"),
    (lambda d: d.update(classify={"window_fraction": 0.2}), "classify.window_fraction"),
    (lambda d: d.update(stability={"sharpness": "sometimes"}), "stability.sharpness"),
    (lambda d: d.update(lints={"ignore": ["dead_relu", "deadrelu"]}), "lints.ignore"),
]
# Spellings the loader takes, which the schema must take too.
ACCEPTED = [
    lambda d: d["init"].update(scales=2.0),  # one value for a list
    lambda d: d["training"].update(batch_size=32),
    lambda d: d["sweep"].update(learning_rates=["1e-3", 0.1]),  # YAML 1.1's string numbers
    lambda d: d.update(stability={"sharpness": False}),  # a bare `off`
    lambda d: d.update(model=None),  # `model:` with nothing under it
    lambda d: d["init"].update(scheme=["he", "xavier"]),
    lambda d: d.update(lints={"ignore": ["dead_relu", "sum_reduction"]}),
]


@pytest.mark.parametrize("change, key", REFUSED, ids=[k for _, k in REFUSED])
def test_what_the_loader_refuses_the_schema_refuses(config_validator, change, key):
    doc = copy.deepcopy(QUICKSTART)
    change(doc)
    with pytest.raises(ConfigError) as caught:
        config.config_from_dict(doc)
    assert caught.value.key == key
    assert schema_errors(config_validator, doc), (
        f"the schema accepts what the loader refuses: {key}"
    )


@pytest.mark.parametrize("change", ACCEPTED)
def test_what_the_loader_takes_the_schema_takes(config_validator, change):
    doc = copy.deepcopy(QUICKSTART)
    change(doc)
    config.config_from_dict(doc)
    assert schema_errors(config_validator, doc) == []


def test_every_option_is_described_with_its_default():
    schema = _schema("config")
    for name, cls in config.SECTIONS.items():
        section = schema["properties"][name]["anyOf"][0]["properties"]
        for f in dataclasses.fields(cls):
            assert f.name in section, f"{name}.{f.name} is not in the schema"
            if f.metadata.get("help"):
                assert section[f.name]["description"] == f.metadata["help"]
            assert "default" in section[f.name]


def test_a_real_sweep_validates_and_a_broken_one_does_not(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "data": {"kind": "linear", "n_samples": 16, "validation_split": 0.25},
                "model": {"hidden": [], "output": "identity", "loss": "mse"},
                "training": {"epochs": 8},
                "sweep": {"learning_rates": [0.01, 1e6]},
                "stability": {"track_every": 4},
            }
        )
    )
    out = CliRunner().invoke(cli, ["sweep", str(path), "--json", "--out", str(tmp_path / "o")])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    validator = jsonschema.Draft202012Validator(_schema("results"))
    assert schema_errors(validator, doc) == []
    assert doc["runs"][1]["verdict"] == "diverging" and doc["runs"][0]["val"] is not None
    for breakage in (
        lambda d: d["runs"][0].update(verdict="exploding"),
        lambda d: d["runs"][0].update(flags=["wobbly"]),
        lambda d: d["runs"][0].pop("seed"),
        lambda d: d["runs"][0].update(extra=1),
        lambda d: d["config"]["training"].update(epochs="many"),
        lambda d: d.update(schema_version=results.SCHEMA_VERSION + 1),
        lambda d: d["summary"]["per_scale"][0].update(bracket=[1.0]),
    ):
        broken = copy.deepcopy(doc)
        breakage(broken)
        assert schema_errors(validator, broken)


def test_schema_version_is_bumped_when_the_results_layout_changes():
    """The stored copy is the last released layout: a change to it needs a new version."""
    current = _schema("results")
    current.pop("$defs")  # the config: versioned by the config dataclasses themselves
    stored = json.loads(STORED.read_text())
    if current != stored:
        assert current["properties"]["schema_version"] != stored["properties"]["schema_version"], (
            "the results.json layout changed: bump results.SCHEMA_VERSION, then store the new "
            "schema (lrdiag schema results, without $defs) in " + str(STORED.relative_to(ROOT))
        )


def test_compare_json_validates(tmp_path):
    validator = jsonschema.Draft202012Validator(_schema("compare"))
    base = {
        "data": {"kind": "moons", "n_samples": 24},
        "model": {"hidden": [4]},
        "training": {"epochs": 6},
        "sweep": {"learning_rates": [0.01, 0.5, 1000.0]},
    }
    outs = []
    for name, scale in (("a", 1.0), ("b", 30.0)):
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump({**base, "init": {"scales": [scale]}}))
        out = tmp_path / name
        result = CliRunner().invoke(
            cli, ["sweep", str(path), "-q", "--out", str(out), "--no-plots"]
        )
        assert result.exit_code == 0, result.output
        outs.append(str(out))
    result = CliRunner().invoke(cli, ["compare", *outs, "--json", "--fail-on", "verdict-change"])
    doc = json.loads(result.stdout)
    assert schema_errors(validator, doc) == []
    assert doc["paired"] == {"init_scale": [1.0, 30.0]}
    broken = copy.deepcopy(doc)
    broken["groups"][0]["boundary_moved"] = "sideways"
    assert schema_errors(validator, broken)
