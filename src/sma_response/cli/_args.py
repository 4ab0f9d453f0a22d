"""Command lines that take a plain positional argument besides Hydra-style ``key=value`` overrides.

``sma-reproduce <run id> tracking=server`` reads better than ``run_id=<id>``, which a
``@hydra.main`` app cannot accept; these entry points compose their config with the same
overrides through :func:`~sma_response.conf.compose.compose_config` instead.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import NoReturn

from hydra.errors import HydraException, OverrideParseException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from sma_response.conf.compose import compose_config
from sma_response.conf.factory import ConfigError

__all__ = ["compose_from_argv"]


def _fail(prog: str, message: str) -> NoReturn:
    sys.stderr.write(f"{prog}: error: {message}\n")
    raise SystemExit(2)


def compose_from_argv(
    argv: Sequence[str],
    *,
    prog: str,
    config_name: str,
    usage: str,
    positional: str | None = None,
    aliases: Mapping[str, str] | None = None,
    known: Sequence[str] | None = None,
    collect: str | None = None,
) -> DictConfig:
    """Turn a command line into a composed config; exit 2 with one line on a user error.

    Parameters
    ----------
    argv
        Arguments after the program name.
    prog
        Program name for messages.
    config_name
        Primary config to compose.
    usage
        Printed for ``-h``/``--help``.
    positional
        Key that a plain argument (no ``=``) sets, e.g. ``run_id``.
    aliases
        Keys accepted under another name (``{"model": "model_uri"}``).
    known, collect
        With both: an override whose first key part is not in ``known`` goes into the list
        ``collect`` instead (``sma-reproduce <id> seed=3`` -> ``changes=['seed=3']``).
    """
    overrides: list[str] = []
    collected: list[str] = []
    seen_positional = False
    for arg in argv:
        if arg in ("-h", "--help"):
            sys.stdout.write(usage.replace("``", "").strip() + "\n")
            raise SystemExit(0)
        key, sep, value = arg.partition("=")
        if not sep:
            if positional is None or seen_positional or arg.startswith("-"):
                _fail(prog, f"unexpected argument {arg!r} (use key=value; --help shows the keys)")
            overrides.append(f"{positional}={arg}")
            seen_positional = True
            continue
        key = (aliases or {}).get(key, key)
        root = key.lstrip("+~").split(".")[0].split("@")[0]
        if known is not None and collect is not None and root not in known:
            collected.append(f"{key}={value}")
            continue
        overrides.append(f"{key}={value}")
    if collected:
        quoted = ",".join(
            "'" + c.replace("\\", "\\\\").replace("'", "\\'") + "'" for c in collected
        )
        overrides.append(f"{collect}=[{quoted}]")
    try:
        return compose_config(config_name, overrides)
    except OverrideParseException as err:
        hint = "quote a value with spaces or brackets twice, e.g. site='\"my clinic (2026)\"'"
        _fail(prog, f"{str(err).strip().splitlines()[0]} ({hint})")
    except (HydraException, OmegaConfBaseException, ConfigError) as err:
        _fail(prog, str(err).strip().splitlines()[0])
        raise  # unreachable: _fail exits
