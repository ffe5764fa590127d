"""Issue 15's grid axes under sweep: (optimizer, momentum, weight_decay, warmup_steps,
clip_grad_norm, batch_size) and sweep.compare: every run of a combined sweep trains exactly as
the same run in a sweep of its own config (per-run arrays where one loop serves them, group by
group otherwise), its row carries every axis value, and the summary answers per compared value.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_engine import make_dataset, train_strict

from lrdiag import sweep
from lrdiag.config import config_from_dict
from lrdiag.errors import ConfigError
from lrdiag.summary import summarize


def cfg_dict(**sweep_axes):
    return {
        "data": {"kind": "moons", "seed": 3},
        "model": {"hidden": [6], "activation": "tanh", "output": "sigmoid", "loss": "bce"},
        "init": {"scheme": "xavier", "scales": [1.0]},
        "training": {"optimizer": "momentum", "epochs": 12, "seeds": [0, 1], "dtype": "float64",
                     "schedule": {"kind": "cosine", "start_factor": 0.2}},
        "sweep": {"learning_rates": [0.05, 0.5, 5.0], **sweep_axes},
    }  # fmt: skip


def one_config(d, run: sweep.Run):
    """The config that trains ``run`` alone: each axis value written into training:."""
    d = {k: dict(v) if isinstance(v, dict) else v for k, v in d.items()}
    t = d["training"] = dict(d["training"])
    t["schedule"] = dict(t["schedule"])
    for name, value in run.axes:
        if name == "warmup_steps":
            t["schedule"]["warmup_steps"] = value
        else:
            t[name] = "full" if name == "batch_size" and value is None else value
    d["sweep"] = {"learning_rates": [run.learning_rate]}
    t["seeds"] = [run.seed]
    return config_from_dict(d)


@pytest.mark.parametrize(
    "axes",
    [
        # one vectorised loop: per-run momentum, weight decay, warmup and clipping
        {"momentum": [0.0, 0.9], "weight_decay": [0.0, 0.01], "warmup_steps": [0, 5],
         "clip_grad_norm": [None, 0.3]},
        # group by group: optimizers and batch sizes
        {"optimizer": ["adam", "nesterov", "rmsprop"], "batch_size": ["full", 16]},
        {"optimizer": ["sgd", "adamw"], "warmup_steps": [0, 4]},
    ],
    ids=["per-run", "groups", "mixed"],
)  # fmt: skip
def test_every_run_trains_as_its_own_config(axes):
    d = cfg_dict(**axes)
    cfg = config_from_dict(d)
    ds = make_dataset("sigmoid", "bce", val=False)
    runs, result = train_strict(cfg, ds)
    n_combos = int(np.prod([len(v) for v in axes.values()]))
    assert len(runs) == 3 * 2 * n_combos
    assert [r.id for r in runs] == list(range(len(runs)))
    assert all(dict(r.axes).keys() == axes.keys() for r in runs)
    for i, run in enumerate(runs):
        alone_cfg = one_config(d, run)
        _, alone = train_strict(alone_cfg, ds, [dataclasses.replace(run, id=0, axes=())])
        np.testing.assert_allclose(result.loss[i], alone.loss[0], rtol=1e-12, atol=0,
                                   err_msg=str(run))  # fmt: skip
        assert result.diverged_epoch[i] == alone.diverged_epoch[0]


def test_without_axes_the_grid_is_unchanged():
    cfg = config_from_dict(cfg_dict())
    runs = sweep.expand_grid(cfg)
    assert [(r.learning_rate, r.seed) for r in runs] == [
        (lr, s) for s in (0, 1) for lr in (0.05, 0.5, 5.0)
    ]
    assert all(r.axes == () for r in runs)
    assert sweep.n_runs(cfg) == 6


@pytest.mark.parametrize(
    "axes, key, words",
    [
        ({"optimizer": ["adam", "adagrad"]}, "sweep.optimizer[1]", "is not one of"),
        ({"warmup_steps": [0, 0]}, "sweep.warmup_steps[1]", "duplicate"),
        ({"warmup_steps": []}, "sweep.warmup_steps", "must not be empty"),
        ({"momentum": [1.5]}, "sweep.momentum[0]", "in [0, 1)"),
        ({"clip_grad_norm": [0]}, "sweep.clip_grad_norm[0]", "> 0"),
        ({"batch_size": [0]}, "sweep.batch_size[0]", "'full' or an integer"),
        ({"compare": "warmup_steps"}, "sweep.compare", "not an axis of this sweep"),
        ({"compare": "colour"}, "sweep.compare", "is not one of"),
    ],
)
def test_axis_errors_name_the_key(axes, key, words):
    with pytest.raises(ConfigError) as info:
        config_from_dict(cfg_dict(**axes), file="x.yaml")
    assert info.value.key == key and words in info.value.message, info.value.message


def test_axes_are_sorted_and_read_like_their_training_keys():
    axes = {"warmup_steps": [500, 0, 100], "batch_size": [64, "full"],
            "clip_grad_norm": [1.0, None], "compare": "warmup_steps"}  # fmt: skip
    cfg = config_from_dict(cfg_dict(**axes))
    s = cfg.sweep
    assert s.warmup_steps == (0, 100, 500)
    assert s.batch_size == (64, None)  # full batch last: the largest batch
    assert s.clip_grad_norm == (None, 1.0)  # off first
    assert s.compare == "warmup_steps"
    assert sweep.n_runs(cfg) == 3 * 2 * 3 * 2 * 2


def rows(compare_values, largest):
    """Rows of a sweep over lr x compare: converging up to ``largest[value]``."""
    out = []
    for v in compare_values:
        for lr in (1e-4, 1e-3, 3e-3, 1e-2):
            verdict = "converging" if lr <= largest[v] else "diverging"
            out.append({"learning_rate": lr, "init_scale": 1.0, "seed": 0, "warmup_steps": v,
                        "verdict": verdict, "metrics": {"final": 0.1}})  # fmt: skip
    return out


def test_summary_compares_the_axis_and_says_by_how_much():
    s = summarize(rows([0, 500], {0: 1e-3, 500: 3e-3}), compare="warmup_steps")
    assert [p["warmup_steps"] for p in s["per_scale"]] == [0, 500]
    assert [p["largest_converging_lr"] for p in s["per_scale"]] == [1e-3, 3e-3]
    assert s["compare"] == "warmup_steps"
    assert "with warmup_steps 500 the largest converging lr is 3e-3 (1e-3 without)" in s["answer"]


def test_the_sweep_command_reports_every_axis(tmp_path):
    """Rows (json and csv) carry the axis values; the terminal and report.md give the answer;
    the phase map's second axis is the compared one."""
    import csv
    import json

    import yaml
    from click.testing import CliRunner

    from lrdiag.cli import cli

    d = cfg_dict(warmup_steps=[0, 5], optimizer=["momentum", "adam"], compare="warmup_steps")
    d["training"]["epochs"] = 6
    path = tmp_path / "axes.yaml"
    path.write_text(yaml.safe_dump(d))
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli, ["sweep", str(path), "--out", str(out)], env={"COLUMNS": "200"}
    )
    assert result.exit_code in (0, 1), result.output
    doc = json.loads((out / "results.json").read_text())
    assert len(doc["runs"]) == 3 * 2 * 2 * 2
    assert {(r["optimizer"], r["warmup_steps"]) for r in doc["runs"]} == {
        ("adam", 0),
        ("adam", 5),
        ("momentum", 0),
        ("momentum", 5),
    }
    assert [p["warmup_steps"] for p in doc["summary"]["per_scale"]] == [0, 5]
    (sentence,) = doc["summary"]["answer"]
    assert sentence.startswith("with warmup_steps 5 ") and sentence.endswith(" without)")
    assert sentence in " ".join(result.stdout.split())  # however rich wrapped it
    assert "per warmup steps" in result.stdout
    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {"optimizer", "warmup_steps"} <= set(rows[0])
    assert sentence.capitalize() in (out / "report.md").read_text()
    assert (out / "phase.png").stat().st_size > 0


def test_phase_map_takes_the_compared_axis():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from lrdiag.plots import plot_phase

    runs = rows([0, 500], {0: 1e-3, 500: 3e-3})
    ax = plot_phase(Figure().add_subplot(), runs, axis="warmup_steps")
    assert ax.get_ylabel() == "warmup steps"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["0", "500"]


def test_configs_warmup_yaml_moves_the_boundary_and_says_by_how_much():
    """configs/warmup.yaml: the warmup moves Adam's largest converging lr (down, for this
    network: the comment says so), and the summary's answer names both values."""
    from pathlib import Path

    from lrdiag import results
    from lrdiag.config import load_config
    from lrdiag.data import load_dataset

    cfg = load_config(Path(__file__).resolve().parent.parent / "configs" / "warmup.yaml")
    ds = load_dataset(cfg.data, cfg.model, file=cfg.source)
    runs = sweep.expand_grid(cfg)
    doc = results.document(cfg, runs, sweep.train(cfg, ds, runs), ds.n_classes)
    without, with_ = doc["summary"]["per_scale"]
    assert (without["warmup_steps"], with_["warmup_steps"]) == (0, 50)
    assert with_["largest_converging_lr"] < without["largest_converging_lr"]
    (sentence,) = doc["summary"]["answer"]
    lr, ref = with_["largest_converging_lr"], without["largest_converging_lr"]
    assert sentence == (
        f"with warmup_steps 50 the largest converging lr is {lr:.3g} ({ref:.3g} without)"
    )
