"""The benchmarks' target lines, printed the same way everywhere and kept for bench.json.

``target(name, met, figure)`` prints ``  target: <name>: met|MISSED (<figure>)`` and records it;
``figure(name, value, unit)`` records a measurement without a target. ``write_json`` writes
everything recorded in this run to ``test-artifacts/bench.json`` (``make bench`` does it at the
end). Verdicts are printed, never asserted: these machines are shared and noisy.
"""

from __future__ import annotations

import json
import platform
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tracker.config import PROJECT_ROOT

BENCH_JSON = PROJECT_ROOT / "test-artifacts" / "bench.json"

_targets: list[dict[str, Any]] = []
_figures: dict[str, dict[str, Any]] = {}


def figure(name: str, value: float | None, unit: str) -> None:
    """Record one measured figure (seconds, ms, ×floor, emails/s, MiB…)."""
    _figures[name] = {"value": None if value is None else round(value, 4), "unit": unit}


def target(name: str, met: bool | None, measured: str) -> str:
    """Print and record one target line; ``met`` None means it could not be measured."""
    verdict = "not measured" if met is None else "met" if met else "MISSED"
    _targets.append({"target": name, "verdict": verdict, "measured": measured})
    line = f"  target: {name}: {verdict} ({measured})"
    print(line, flush=True)
    return line


def write_json(path: Path = BENCH_JSON, parts: list[str] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "parts": parts,
        "note": "Measured on a shared machine: compare ratios to the floor, not milliseconds.",
        "targets": _targets,
        "figures": _figures,
    }
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return path
