"""Reading a YAML file safely: size caps, alias expansion counted, duplicate keys refused."""

from __future__ import annotations

import os
import typing
from typing import Any

import yaml

from lrdiag.errors import ConfigError, quote

# A config is a page of YAML: more than this is not one (/dev/zero, a data file named by mistake).
MAX_CONFIG_BYTES = 1024**2
# Values a YAML document may build, aliases counted at every use: a few hundred bytes of nested
# aliases ("billion laughs") would otherwise expand to gigabytes before any check ran.
MAX_YAML_VALUES = 100_000


def read_yaml(path: str | os.PathLike, what: str = "file") -> Any:
    """The YAML document in ``path`` (SafeLoader, duplicate keys rejected), read with size caps:
    at most MAX_CONFIG_BYTES of text and MAX_YAML_VALUES values, aliases expanded. ConfigError
    (naming the file, and the line where YAML can tell) for anything else."""
    file = str(path)
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigError(f"{what} not found", file=file) from None
    except OSError as e:
        raise ConfigError(f"cannot read the {what}: {e.strerror or e}", file=file) from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"the {what} is larger than {MAX_CONFIG_BYTES // 1024**2} MiB: not a config", file=file
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(
            f"cannot read the {what}: not UTF-8 text ({e.reason})", file=file
        ) from None
    loader = None
    try:
        loader = _StrictLoader(text)  # its reader already refuses some characters
        node = loader.get_single_node()
        if node is None:
            return None
        _count_values(node, file)
        return loader.construct_document(node)
    except ValueError as e:  # an integer of 5000 digits: past Python's conversion limit
        raise ConfigError(f"invalid YAML: {e}", file=file) from None
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f"line {mark.line + 1}: " if mark is not None else ""
        raise ConfigError(f"{line}invalid YAML: {e.problem or e}", file=file) from None
    except yaml.YAMLError as e:
        raise ConfigError(f"invalid YAML: {e}", file=file) from None
    except RecursionError:
        raise ConfigError("invalid YAML: nested too deeply", file=file) from None
    finally:
        if loader is not None:
            loader.dispose()


def _count_values(root: yaml.Node, file: str) -> None:
    """Refuse a document whose values, counting an alias's at every use, exceed MAX_YAML_VALUES
    or refer to themselves; counted on the node graph (an alias is the node it names), so the
    count itself costs one visit per node."""
    sizes: dict[int, int] = {}
    pending: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in pending:
            mark = node.start_mark
            raise ConfigError(
                f"line {mark.line + 1}: invalid YAML: an alias refers to the value it is in",
                file=file,
            )
        pending.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        pending.discard(key)
        if total > MAX_YAML_VALUES:
            raise ConfigError(
                f"line {node.start_mark.line + 1}: invalid YAML: its aliases expand to more "
                f"than {MAX_YAML_VALUES:,} values",
                file=file,
            )
        sizes[key] = total
        return total

    size(root)


class _StrictLoader(yaml.SafeLoader):
    """A SafeLoader that rejects a key given twice in one mapping (PyYAML keeps the last)."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False):
    seen = set()
    for key_node, _ in node.value:
        if not isinstance(key_node, yaml.ScalarNode):  # `? [a, b]`: a list or mapping as a key
            raise yaml.constructor.ConstructorError(
                None, None, "a key must be a plain name, not a list or mapping", key_node.start_mark
            )
        key = loader.construct_object(key_node, deep=deep)
        if isinstance(key, typing.Hashable) and key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {quote(key)} is given twice", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
