"""What Hydra knows about the running job, and configs flattened into MLflow params."""

from __future__ import annotations

import json
from typing import Any

from sma_response.conf.nodes import node_dict

__all__ = ["flatten", "hydra_info"]


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
