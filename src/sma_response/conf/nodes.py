"""Config nodes to plain data and to the typed specs the stages take (one way to do it)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from omegaconf import DictConfig, ListConfig, OmegaConf

__all__ = ["node_dict", "node_list", "node_spec"]

T = TypeVar("T")


def node_dict(node: Any, *, resolve: bool = True, key: str = "config") -> dict[str, Any]:
    """Return a mapping config node as a plain ``dict`` (interpolations resolved).

    Examples
    --------
    >>> node_dict(OmegaConf.create({"a": 1, "b": "${a}"}))
    {'a': 1, 'b': 1}
    """
    data = OmegaConf.to_container(node, resolve=resolve) if isinstance(node, DictConfig) else node
    if not isinstance(data, Mapping):
        msg = f"{key}: expected a mapping, got {type(data).__name__}"
        raise TypeError(msg)
    return {str(k): v for k, v in data.items()}


def node_list(node: Any, *, key: str = "config") -> list[Any]:
    """Return a list config node (or a single value) as a plain ``list``.

    Examples
    --------
    >>> node_list(OmegaConf.create(["a", "b"])), node_list("all")
    (['a', 'b'], ['all'])
    """
    if isinstance(node, ListConfig):
        data = OmegaConf.to_container(node, resolve=True)
        return list(data) if isinstance(data, list) else [data]
    if isinstance(node, list | tuple):
        return list(node)
    return [node]


def node_spec(node: Any, cls: type[T], *, key: str = "config") -> T:
    """Build the stage spec dataclass ``cls`` from a config node (unknown keys are ignored).

    Examples
    --------
    >>> @dataclasses.dataclass
    ... class Spec:
    ...     n: int = 1
    >>> node_spec(OmegaConf.create({"n": 3, "_note": "x"}), Spec)
    Spec(n=3)
    """
    if not dataclasses.is_dataclass(cls):
        msg = f"{key}: {cls!r} is not a dataclass"
        raise TypeError(msg)
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in node_dict(node, key=key).items() if k in names})
