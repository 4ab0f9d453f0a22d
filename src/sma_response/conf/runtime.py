"""What Hydra knows about the running job, and configs flattened into MLflow params."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sma_response.conf.nodes import node_dict
from sma_response.conf.train import TrainConfig
from sma_response.tracking.provenance import git_dirty, git_sha, package_versions

__all__ = ["flatten", "hydra_info", "run_name", "run_tags"]


def flatten(node: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings to dotted keys; lists become JSON text.

    Examples
    --------
    >>> flatten({"a": {"b": 1, "c": [1, 2]}, "d": None})
    {'a.b': 1, 'a.c': '[1, 2]', 'd': None}
    """
    out: dict[str, Any] = {}
    if isinstance(node, dict):
        for k, v in node.items():
            out.update(flatten(v, f"{prefix}{k}." if prefix or k else ""))
    elif isinstance(node, list):
        out[prefix.rstrip(".")] = json.dumps(node)
    else:
        out[prefix.rstrip(".")] = node
    return out


def hydra_info() -> dict[str, Any]:
    """Group choices, command-line overrides and output folder of the Hydra job (``{}`` if none)."""
    try:
        from hydra.core.hydra_config import HydraConfig

        if not HydraConfig.initialized():
            return {}
        hc = HydraConfig.get()
        return {
            "choices": {k: v for k, v in node_dict(hc.runtime.choices).items() if v is not None},
            "overrides": list(hc.overrides.task),
            "output_dir": hc.runtime.output_dir,
        }
    except (ImportError, ValueError):
        return {}


def run_tags(
    spec: TrainConfig, root: Path, extra: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Return the tags of a training run: what ran, on what, from which commit and overrides.

    ``extra`` adds tags (``sma-reproduce`` marks a reproduction with ``reproduces=<run id>``).
    """
    info = hydra_info()
    return {
        "task_name": spec.task_name,
        "experiment": spec.experiment or "none",
        "tags": ",".join(spec.tags),
        "model": spec.model.name,
        "target": spec.target.kind,
        "validation": spec.validation.kind,
        "git_sha": git_sha(root) or "unknown",
        "git_dirty": git_dirty(root),
        "package_version": package_versions(["sma-response"])["sma-response"],
        "seed": spec.seed,
        "dataset": spec.dataset,
        # "model@baseline_model" is tagged by its package: "@" is not allowed in a tag name
        **{f"choice.{k.split('@')[-1]}": v for k, v in info.get("choices", {}).items()},
        "overrides": " ".join(info.get("overrides", []))[:5000] or "none",
        **(extra or {}),
    }


def run_name(spec: TrainConfig, overrides: list[str] | None = None) -> str:
    """Name a run for the MLflow UI: experiment, model, target, seed and a short hash.

    The hash is of the command-line overrides (the Hydra job's when ``overrides`` is
    ``None``), so the members of a sweep, which differ only there, get distinct names.

    Examples
    --------
    >>> spec = TrainConfig()
    >>> spec.model.name = "xgboost"
    >>> run_name(spec, ["model.classifier.max_depth=4"])
    'train:xgboost:responder:seed0:60c54f'
    """
    if overrides is None:
        overrides = list(hydra_info().get("overrides", []))
    digest = hashlib.sha256(" ".join(sorted(overrides)).encode()).hexdigest()[:6]
    delta = spec.target.kind == "delta"
    target = f"delta-{spec.target.scale}" if delta else spec.target.kind
    model = spec.model.label("regression" if delta else "classification")
    return f"{spec.experiment or spec.task_name}:{model}:{target}:seed{spec.seed}:{digest}"
