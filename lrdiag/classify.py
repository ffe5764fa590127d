"""Placeholder: the classify helper replaces this module (see docs/architecture.md)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Thresholds:
    """Every verdict threshold, named once. (Placeholder fields; the real set replaces these.)"""

    window: float = 0.2  # fraction of the curve that is the "final window"
