"""Command lines that take a plain positional argument besides Hydra-style ``key=value`` overrides.

``sma-reproduce <run id> tracking=server`` reads better than ``run_id=<id>``, which a
``@hydra.main`` app cannot accept; these entry points compose their config with the same
overrides through :func:`~sma_response.conf.compose.compose_config` instead.
"""

from __future__ import annotations

import difflib
import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NoReturn

from hydra.errors import HydraException, OverrideParseException
from omegaconf import DictConfig
from omegaconf.errors import OmegaConfBaseException

from sma_response.conf.compose import compose_config
from sma_response.conf.factory import ConfigError, check_group_paths

__all__ = [
    "check_group_choices",
    "compose_from_argv",
    "group_options",
    "groups_help",
]


def group_options(group: str, search: Sequence[Path]) -> list[str] | None:
    """Return the options of a config group (``None``: no such group); schemas are not options.

    Examples
    --------
    >>> from sma_response.conf.resolvers import CONFIG_DIR
    >>> group_options("model", [CONFIG_DIR])
    ['hist_gb', 'logreg', 'xgboost']
    """
    folders = [root / group for root in search if (root / group).is_dir()]
    if not folders:
        return None
    return sorted(
        {p.stem for f in folders for p in f.glob("*.yaml") if not p.stem.endswith("_schema")}
    )


def groups_help(prog: str, search: Sequence[Path], *, examples: Sequence[str] = ()) -> str:
    """Return the ``--help`` text of a command: every config group with its options.

    Groups are the folders of ``search`` holding ``*.yaml`` options (``experiments/`` of the
    project included); schemas are not options and Hydra's own groups are left out.
    """
    names = sorted(
        {
            d.name
            for root in search
            if root.is_dir()
            for d in root.iterdir()
            if d.is_dir()
            and not d.name.startswith(".")
            and d.name not in ("hydra", "local", "configs")
            and any(d.glob("*.yaml"))
        }
    )
    width = max((len(n) for n in names), default=0)
    rows = []
    for name in names:
        options = group_options(name, search) or []
        if options:
            rows += textwrap.wrap(
                ", ".join(options),
                width=100,
                initial_indent=f"  {name:<{width}}  ",
                subsequent_indent=" " * (width + 4),
            )
    lines = [
        f"usage: {prog} [group=option ...] [key=value ...]   ({prog} -m ... for a sweep)",
        "",
        "Config groups (group=option):",
        *rows,
        "",
        "Any value can be overridden as key=value (e.g. seed=1 evaluate.n_boot=500);",
        f"{prog} --cfg job prints the composed config, --hydra-help Hydra's own options.",
    ]
    if examples:
        lines += ["", "Examples:", *(f"  {e}" for e in examples)]
    return "\n".join(lines) + "\n"


def check_group_choices(argv: Sequence[str], *, prog: str, search: Sequence[Path]) -> None:
    """Exit 2 with one line when an override picks a config-group option that does not exist.

    Runs before Hydra composes anything, so a typo (``model=xgbost``) or a schema
    (``model=model_schema``) is one line with the closest option, not a listing.
    """
    try:
        check_group_paths(list(argv), source="the command line")
    except ConfigError as err:
        _fail(prog, str(err))
    extra = [a.partition("=")[2] for a in argv if a.startswith("hydra.searchpath=")]
    paths = [p.strip(" []") for entry in extra for p in entry.split(",")]
    search = [*search, *(Path(p.removeprefix("file://")) for p in paths if p.startswith("file://"))]
    for arg in argv:
        key, sep, value = arg.partition("=")
        if not sep or key.startswith(("+", "~", "hydra")) or "." in key or "(" in value:
            continue
        group = key.split("@")[0]
        options = group_options(group, search)
        if options is None:
            continue
        for choice in (v.strip() for v in value.split(",")):
            if choice in options or choice in ("null", ""):
                continue
            close = difflib.get_close_matches(choice, options, n=1)
            what = "a schema, not an option" if choice.endswith("_schema") else "no such option"
            hint = f"; did you mean {close[0]}?" if close else ""
            _fail(prog, f"{key}={choice}: {what}{hint} (options: {', '.join(options)})")


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
