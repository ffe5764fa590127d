"""GitHub Actions: the job summary and annotations (``GITHUB_ACTIONS=true``).

The Markdown summary is appended to the file ``$GITHUB_STEP_SUMMARY`` names (the job's page
shows it); each ``--fail-on`` match becomes an ``::error`` workflow command, which the runner
reads from the step's output and shows on the pull request's diff at the file and line given:
for a run, the config file and the line of ``sweep.learning_rates`` that set its learning rate.
Nothing here prints: the functions return text and the CLI writes it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import yaml

LR_KEY = ("sweep", "learning_rates")


def active(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    return env.get("GITHUB_ACTIONS") == "true"


def summary_file(env: Mapping[str, str] | None = None) -> Path | None:
    env = os.environ if env is None else env
    name = env.get("GITHUB_STEP_SUMMARY")
    return Path(name) if active(env) and name else None


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(
    message: str,
    *,
    level: str = "error",
    title: str | None = None,
    file: str | None = None,
    line: int | None = None,
) -> str:
    """One workflow command line: ``::error file=F,line=N,title=T::message``."""
    props = []
    if file is not None:
        props.append(f"file={_escape_property(file)}")
        if line is not None:
            props.append(f"line={line}")
    if title:
        props.append(f"title={_escape_property(title)}")
    head = f"::{level}" + (f" {','.join(props)}" if props else "")
    return f"{head}::{_escape_data(message)}"


def lr_line(config_file: str | os.PathLike, learning_rate: float | None) -> int | None:
    """The line (1-based) of the config that set ``learning_rate``: the item of a
    ``sweep.learning_rates`` list equal to it, else the key itself (a ``{min, max, num}``
    range, or the default when the key is absent: then None)."""
    try:
        text = Path(config_file).read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    node = root
    key_node = None
    for name in LR_KEY:
        if not isinstance(node, yaml.MappingNode):
            return None
        match = [
            (k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == name
        ]
        if not match:
            return None
        key_node, node = match[-1]
    if isinstance(node, yaml.SequenceNode) and learning_rate is not None:
        for item in node.value:
            try:
                if isinstance(item, yaml.ScalarNode) and float(item.value) == learning_rate:
                    return item.start_mark.line + 1
            except ValueError:
                continue
    return key_node.start_mark.line + 1


def match_annotations(
    matched: list[Mapping], *, config_file: str | os.PathLike | None, level: str = "error"
) -> list[str]:
    """An annotation per ``--fail-on`` match ({"kind", "message", "learning_rate"}), pointing
    at the line of ``config_file`` that set its learning rate (else at the match's "file")."""
    lines = []
    for m in matched:
        file = str(config_file) if config_file is not None else m.get("file")
        line = lr_line(config_file, m.get("learning_rate")) if config_file is not None else None
        title = f"lrdiag: {m['kind']}" + (" (sweep.learning_rates)" if config_file else "")
        lines.append(annotation(m["message"], level=level, title=title, file=file, line=line))
    return lines


def verdict_matches(runs: list[Mapping], fail_on: tuple[str, ...]) -> list[dict]:
    """The sweep's runs (training or validation curve) whose verdict ``--fail-on`` names."""
    from lrdiag.formatting import lr_labels

    labels = lr_labels(r["learning_rate"] for r in runs)
    found = []
    for r in runs:
        for curve, judged in (("", r), (" (validation)", r.get("val") or {})):
            verdict = judged.get("verdict")
            if verdict in fail_on:
                label = (
                    f"lr {labels[r['learning_rate']]}, scale {r['init_scale']:g}, seed {r['seed']}"
                )
                found.append(
                    {
                        "kind": verdict,
                        "message": f"{label}{curve}: {judged.get('reason')}",
                        "learning_rate": r["learning_rate"],
                    }
                )
    return found


def curve_matches(docs: list[Mapping], fail_on: tuple[str, ...]) -> list[dict]:
    """The curves of ``lrdiag classify``'s documents whose verdict ``--fail-on`` names."""
    return [
        {
            "kind": c["verdict"],
            "message": f"{doc.get('file')}: {c.get('name')}: {c.get('reason')}",
            "learning_rate": None,
            "file": str(doc.get("file")),
        }
        for doc in docs
        for c in doc.get("curves") or []
        if c.get("verdict") in fail_on
    ]


def classify_markdown(docs: list[Mapping]) -> str:
    """``lrdiag classify``'s verdicts as a Markdown table, for the job summary."""
    from lrdiag.markdown import _md, _md_table

    rows = [
        [
            _md(doc.get("file")),
            _md(c.get("name")),
            f"**{_md(c.get('verdict'))}**",
            _md(c.get("reason")),
        ]
        for doc in docs
        for c in doc.get("curves") or []
    ]
    table = _md_table(["file", "curve", "verdict", "reason"], rows, ["l"] * 4)
    return "\n".join(["## lrdiag classify", "", *table]) + "\n"
