"""Hostile files and a hostile environment (issue 12, items 5 and 6, and its fuzz test).

Whatever a config, CSV or npz holds, lrdiag exits 0, 1 or 2 (never 3, "a bug in lrdiag"), stays
within a memory bound the test sets, and keeps stdout clean: no terminal control codes from a
name in a file, on the terminal, in report.md or on stderr.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lrdiag.cli import cli
from lrdiag.markdown import markdown_summary
from tests.test_cli import BIN, one_line, read_terminal, sweep, write_config

ESC = "\x1b[2K\x1b[1A"  # erase the line, move up: what a hostile name does to a terminal
MEMORY_LIMIT = 500 * 2**20  # bytes of address space the fuzzed lrdiag may use


def lrdiag(*args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, limit: bool = False):
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")

    def bounded():  # in the child: a memory bound, as the 13.7 GB alias bomb needs
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    return subprocess.run(
        [str(BIN / "lrdiag"), *map(str, args)],
        stdout=stdout,
        stderr=stderr,
        env=env,
        timeout=60,
        preexec_fn=bounded if limit else None,
    )


# --------------------------------------------------------------------------- item 5


def test_stdout_on_a_full_device_is_exit_2_in_one_line(tmp_path):
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    config = write_config(tmp_path)
    for args in (["--dry-run"], ["--dry-run", "--json"], ["-o", tmp_path / "out", "--no-plots"]):
        with open("/dev/full", "w") as full:
            result = lrdiag("sweep", config, *args, stdout=full)
        err = result.stderr.decode()
        assert result.returncode == 2, err
        assert "No space left" in one_line(err)


def test_stderr_on_a_full_device_never_exits_1(tmp_path):
    """stderr that cannot take a message: the exit code is all that tells what happened, and
    it must not be 1, the code CI reads as a --fail-on match (nor Python's 120 at exit)."""
    if not Path("/dev/full").exists():
        pytest.skip("no /dev/full")
    restarted = tmp_path / "restarted.csv"  # the epoch column goes back: a note on stderr
    rows = [f"{e},{1 / (e + 1)}" for run in range(2) for e in range(10)]
    restarted.write_text("epoch,loss\n" + "\n".join(rows) + "\n")
    cases = [
        (["classify", tmp_path / "missing.csv"], 2),  # an error in a command
        (["classify", "--no-such-option", restarted], 2),  # a usage error
        ([], 2),  # plain lrdiag: the help, on stderr
        (["classify", restarted], 2),  # a note it cannot write: its output is incomplete
        (["classify", restarted, "--json"], 2),
    ]
    for args, code in cases:
        with open("/dev/full", "w") as full:
            result = lrdiag(*args, stderr=full)
        assert result.returncode == code, (args, result.returncode)
    ok = tmp_path / "ok.csv"  # nothing for stderr: stdout has it all
    ok.write_text("epoch,loss\n" + "\n".join(f"{e},{1 / (e + 1)}" for e in range(10)) + "\n")
    with open("/dev/full", "w") as full:
        result = lrdiag("classify", ok, "--json", stderr=full)
    assert result.returncode == 0 and json.loads(result.stdout)["curves"][0]["verdict"]


def test_a_closed_stderr_is_not_a_bug(tmp_path):
    config = write_config(tmp_path)
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    script = "import os, sys; os.close(2); os.execv(sys.argv[1], sys.argv[1:])"
    result = subprocess.run(
        [sys.executable, "-c", script, str(BIN / "lrdiag"), "sweep", str(config), "-o", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout
    assert (out / "results.json").is_file()


def test_a_closed_stdin_is_an_empty_log_not_a_bug():
    """`lrdiag classify - <&-`: a closed stdin reads as empty, exit 2 in one line (not 3)."""
    script = "import os, sys; os.close(0); os.execv(sys.argv[1], sys.argv[1:])"
    result = subprocess.run(
        [sys.executable, "-c", script, str(BIN / "lrdiag"), "classify", "-"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "<stdin>: the file is empty" in one_line(result.stderr)


@pytest.mark.parametrize("size", ["1e400", "1e30GB"])
def test_a_memory_budget_beyond_any_machine_is_a_usage_error(tmp_path, size):
    result = sweep(write_config(tmp_path), "--max-memory", size, "--dry-run")
    assert result.exit_code == 2, result.stderr
    assert "too large" in one_line(result.stderr)


# --------------------------------------------------------------------------- item 6


def test_column_names_with_escape_codes_are_printed_escaped(tmp_path):
    path = tmp_path / "log.csv"
    rows = "\n".join(f"{i},{1 / i}" for i in range(1, 30))
    path.write_text(f"epoch,lo{ESC}ss\n{rows}\n")
    result = CliRunner().invoke(cli, ["classify", str(path)])
    assert result.exit_code == 0, result.stderr
    assert "\x1b" not in result.stdout + result.stderr
    assert "lo\\x1b[2K\\x1b[1Ass" in result.stdout


def test_a_config_name_with_escape_codes_is_refused(tmp_path):
    config = write_config(tmp_path)
    config.write_text(config.read_text() + 'name: "my\\e[2Kname"\n')
    result = sweep(config, "--dry-run")
    assert result.exit_code == 2
    assert "\x1b" not in result.stderr and "control characters" in one_line(result.stderr)


def test_names_in_a_results_document_are_escaped_in_report_md():
    doc = {"config": {"name": f"sweep{ESC}"}, "runs": [], "complete": True}
    assert "\x1b" not in markdown_summary(doc)


def test_a_config_file_name_with_escape_codes_is_escaped_on_stderr(tmp_path):
    config = write_config(tmp_path, name=f"bad{ESC}")
    config.write_text("training: {epochs: 0}\n")
    result = sweep(config, "--dry-run")
    assert result.exit_code == 2
    assert "\x1b" not in result.stderr and "bad\\x1b[2K" in result.stderr


def test_parameter_names_with_escape_codes_are_escaped_by_gradcheck(tmp_path):
    module = tmp_path / "model.py"
    module.write_text(
        "import numpy as np\n"
        f"params = {{{ESC!r}: np.array([1.0, 2.0])}}\n"
        f"def loss(p): return float(np.sum(p[{ESC!r}] ** 2))\n"
        f"def grad(p): return {{{ESC!r}: -2 * p[{ESC!r}]}}\n"
    )
    result = CliRunner().invoke(cli, ["gradcheck", str(module)])
    assert result.exit_code == 1, result.stderr
    assert "\x1b" not in result.stdout + result.stderr


# --------------------------------------------------------------------------- fuzz

LAUGHS = "".join(
    f"{a}: &{a} [{', '.join([f'*{p}'] * 9 if p else ['lol'] * 9)}]\n"
    for p, a in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
)
YAML_PIECES = [
    LAUGHS,
    LAUGHS + "training: {seeds: *i}\n",
    "training: &t\n  seeds: [*t]\n",
    "? [a, b]\n: 1\n",
    "training:\n  ? {epochs: 1}\n  : 2\n",
    "!!python/object/apply:os.system ['true']\n",
    "training: !!binary aGVsbG8=\n",
    "name: 2001-12-14\n",
    "sweep: {learning_rates: [1e295, 1e-310]}\n",
    "sweep: {learning_rates: {min: 1e-4, max: 1, num: 100000000}}\n",
    "training: {seeds: [9223372036854775807]}\n",
    "training: {seeds: [" + "9" * 5000 + "]}\n",
    "init: {scales: [1e308]}\n",
    "[" * 3000 + "]" * 3000 + "\n",
    f"name: {'x' * 300}\n",
    'name: "a\\e[2Kb"\n',
    "data: {kind: file, path: data.csv}\n",
    "data: {kind: file, path: data.npz}\n",
    "data: {noise: .inf}\n",
    "data: {n_samples: 100000000000}\n",
    "model: {hidden: [100000000]}\n",
    "\ufeffname: bom\n",
    "\x00\x01\x02",
    "{" + "a: 1, " * 2000 + "}\n",
]
CSV_PIECES = [
    "a,label\n0.5,0\n1.5,1\n2.5,40000\n",
    f"a{ESC},label\n0.5,0\n1.5,1\n",
    "a,label\n1e308,0\n-1e308,1\n1e308,0\n",
    "a,label\nnan,0\ninf,1\n",
    "a,label\n0.5,0\n1.5\n",
    "a\n1\n",
    "",
    "\x00\x00\x00",
    "a,label\n" + "".join(f"{i},{i % 3}\n" for i in range(50)),
    "a,b,label\n" + "".join(f"{i},{-i},{i}.5\n" for i in range(20)),
]


def _npz(kind: int) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        arrays = {"X": np.ones((6, 2)), "y": np.array([0, 1, 0, 1, 0, 1])}
        if kind == 1:
            arrays["y"] = np.array([0, 1, 0, 1, 0, 10**9])
        if kind == 2:
            arrays["X"] = np.ones((6, 2), dtype=complex)
        for name, array in arrays.items():
            if kind == 3 and name == "X":
                z.writestr("X.npy", b"not an array")
                continue
            member = io.BytesIO()
            np.save(member, array)
            z.writestr(f"{name}.npy", member.getvalue())
        if kind == 4:  # a member declaring an array far larger than the file
            header = np.lib.format.header_data_from_array_1_0(np.zeros(1))
            header["shape"] = (10**12,)
            member = io.BytesIO()
            np.lib.format.write_array_header_1_0(member, header)
            z.writestr("unused.npy", member.getvalue())
    return buf.getvalue()


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    yaml_text=st.lists(st.sampled_from(YAML_PIECES), min_size=1, max_size=3).map("".join),
    csv_text=st.sampled_from(CSV_PIECES),
    npz_kind=st.integers(0, 4),
    as_json=st.booleans(),
)
def test_fuzz_hostile_files_exit_0_1_or_2_within_memory(
    tmp_path_factory, yaml_text, csv_text, npz_kind, as_json
):
    tmp = tmp_path_factory.mktemp("fuzz")
    (tmp / "data.csv").write_text(csv_text, encoding="utf-8")
    (tmp / "data.npz").write_bytes(_npz(npz_kind))
    config = tmp / "hostile.yaml"
    config.write_text(yaml_text, encoding="utf-8")
    result = lrdiag("sweep", config, "--dry-run", *(["--json"] if as_json else []), limit=True)
    err = result.stderr.decode("utf-8", "replace")
    assert result.returncode in (0, 1, 2), err[-2000:]
    assert b"\x1b" not in result.stdout
    if result.returncode == 2:
        assert result.stdout == b"" and len(err.strip().splitlines()) == 1, err[-2000:]
        assert len(err) < 2000
    elif as_json:
        json.loads(result.stdout)


def test_no_color_sends_no_cursor_codes_to_a_terminal_on_stderr(tmp_path):
    """The progress bar (stderr on a terminal) moved the cursor with escape codes."""
    import pty

    config = write_config(tmp_path, training={"epochs": 3000})
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k != "FORCE_COLOR"}
    env.update(NO_COLOR="1", COLUMNS="100")
    argv = [BIN / "lrdiag", "sweep", config, "-o", tmp_path / "out", "--no-plots"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=slave, env=env)
    os.close(slave)
    output = read_terminal(master)
    assert proc.wait(timeout=60) == 0
    assert b"\x1b" not in output


def test_the_dry_run_says_what_is_outside_the_memory_budget(tmp_path):
    """100,000 runs under --max-memory 64MB peaked at 1.9 GB: judging and writing are outside."""
    config = write_config(tmp_path, training={"epochs": 99, "seeds": list(range(10))})
    text = sweep(config, "--dry-run", "--max-memory", "64MB")
    assert text.exit_code == 0, text.stderr
    assert "not in the budget: the data as loaded (~" in text.stdout
    assert "judging and writing the results" in text.stdout
    plan = json.loads(sweep(config, "--dry-run", "--json").stdout)
    assert plan["results_bytes"] == 40 * 20 * 100  # 20 runs of 100 losses
    # the data the config makes: its samples' inputs and one-hot or scalar targets, loaded in
    # the training dtype (float32 by default: 4 bytes a number)
    from lrdiag.config import load_config
    from lrdiag.data import load_dataset

    cfg = load_config(config)
    d = load_dataset(cfg.data, cfg.model)
    n, width = d.X.shape[0], d.X.shape[1] + d.Y.shape[1]
    assert cfg.training.dtype == "float32"
    assert plan["data_bytes"] == 4 * n * width


# Pieces of loss logs as people write them, and as they break: headers, restarts, console
# lines, JSON, non-finite and non-numeric cells, control characters, huge and tiny numbers.
LOG_PIECES = (
    "epoch,loss,val_loss\n",
    "epoch,accuracy,loss,val_accuracy,val_loss\n",
    "0,0.5,0.7,0.5,0.72\n1,0.6,0.6,0.55,0.65\n2,0.7,0.5,0.6,0.6\n",
    "0,0.9\n1,nan\n2,inf\n3,-inf\n",
    "0,1e308,1e-308\n1,-1e308,5e-324\n",
    "step,loss\n0,1\n100,0.5\n0,2\n",
    "loss\n\n\n",
    "\x1b[2K\x1b[1A,loss\n1,2\n",
    "Epoch 1/3\n10/10 [====] - 0s - loss: 315.4696 - accuracy: 0.8432 - val_loss: nan\n",
    "Epoch [1/50], Train Loss: 0.123, Val Loss: 0.145\n",
    "Epoch 1/2\n",
    '{"loss": [1, 0.5, null], "val_loss": [2]}',
    '[{"step": 1, "loss": 0.7}, {"step": 1, "loss": "x"}]',
    "[[1.0, 1, 0.5], [2.0, 1, 0.4]]",
    "0.5\n0.4\nabc\n",
    "NA,NA\n",
    "a;b;c\n1;2,5;3\n",
    "\ufeffloss\n" + "0.5\n" * 30,
    "9" * 400 + "\n",
)


@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    text=st.lists(st.sampled_from(LOG_PIECES), min_size=1, max_size=4).map("".join),
    as_json=st.booleans(),
)
def test_fuzz_hostile_logs_exit_0_1_or_2_within_memory(tmp_path_factory, text, as_json):
    """lrdiag classify on a broken or odd log: a verdict (0), or one line on stderr (2); never
    a bug (3), a traceback or an escape code on stdout, within MEMORY_LIMIT."""
    log = tmp_path_factory.mktemp("fuzzlog") / "log.txt"
    log.write_text(text, encoding="utf-8")
    result = lrdiag("classify", log, *(["--json"] if as_json else []), limit=True)
    err = result.stderr.decode("utf-8", "replace")
    assert result.returncode in (0, 2), err[-2000:]
    assert b"\x1b" not in result.stdout and "Traceback" not in err
    if result.returncode == 2:
        assert result.stdout == b"" and len(err.strip().splitlines()) == 1, err[-2000:]
    elif as_json:
        json.loads(result.stdout)
