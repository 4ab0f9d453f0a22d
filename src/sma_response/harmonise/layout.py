"""Where a site's registry export and its mappings are, as ``run_harmonisation`` reads them.

A site may point ``sma-validate`` at one registry's folder, or at a folder of registry folders,
and name its mapping by name, by path, as a list or as ``all``. :func:`export_layout` turns
that into the layout harmonisation expects: a raw folder holding one sub-folder per registry
and a mapping folder. When the export folder is the registry's own folder, it is linked under
the mapping's folder name inside a scratch folder (nothing is copied).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from sma_response.harmonise.harmonise import (
    HarmonisedRegistry,
    combine_registries,
    harmonise_registry,
)
from sma_response.harmonise.io import read_registry, read_registry_spec
from sma_response.harmonise.pseudonym import PseudonymKey
from sma_response.harmonise.spec import RegistrySpec, RegistrySpecError

__all__ = [
    "ExportLayout",
    "ExportLayoutError",
    "export_layout",
    "harmonise_export",
    "harmonise_registries",
    "registry_specs",
]


class ExportLayoutError(ValueError):
    """The export folder or a mapping cannot be found (one line naming it)."""


@dataclass(frozen=True)
class ExportLayout:
    """Where harmonisation reads: raw folder, mapping folder, registries, their mapping names."""

    raw_dir: Path
    registry_dir: Path
    registries: str | list[str]
    mapping_names: list[str]


def _names(registries: str | Sequence[str]) -> list[str]:
    return [registries] if isinstance(registries, str) else [str(r) for r in registries]


def export_layout(
    export_dir: Path, registries: str | Sequence[str], registry_dir: Path, scratch: Path
) -> ExportLayout:
    """Return the layout for ``export_dir`` read with the mappings ``registries``.

    Parameters
    ----------
    export_dir
        One registry's folder, or a folder of registry folders.
    registries
        A mapping name, a path to a mapping YAML, a list of names, or ``"all"`` (every
        mapping in ``registry_dir`` whose folder is in ``export_dir``).
    registry_dir
        The folder of mapping YAMLs.
    scratch
        An empty folder that lives as long as the harmonisation (a link may be made there).

    Raises
    ------
    ExportLayoutError
        No export folder, no such mapping file, or an invalid mapping.

    Examples
    --------
    >>> import tempfile
    >>> tmp = Path(tempfile.mkdtemp())
    >>> export_layout(tmp / "nowhere", "all", tmp, tmp)
    Traceback (most recent call last):
    ...
    sma_response.harmonise.layout.ExportLayoutError: export_dir: no folder .../nowhere
    """
    if not export_dir.is_dir():
        msg = f"export_dir: no folder {export_dir}"
        raise ExportLayoutError(msg)
    if isinstance(registries, str) and registries == "all":
        found = sorted(
            p.stem for p in registry_dir.glob("*.yaml") if (export_dir / p.stem).is_dir()
        )
        return ExportLayout(export_dir, registry_dir, "all", found)
    names = _names(registries)
    if len(names) == 1 and (names[0].endswith((".yaml", ".yml")) or Path(names[0]).is_file()):
        path = Path(names[0])
        if not path.is_file():
            msg = f"registries: no mapping file {path}"
            raise ExportLayoutError(msg)
        registry_dir, names = path.parent, [path.stem]
    if len(names) == 1:
        mapping = registry_dir / f"{names[0]}.yaml"
        if not mapping.is_file():
            available = sorted(p.stem for p in registry_dir.glob("*.yaml"))
            msg = f"registries: no mapping {mapping.name} in {registry_dir}; available: {available}"
            raise ExportLayoutError(msg)
        try:
            folder = read_registry_spec(mapping).folder
        except ValueError as err:  # RegistrySpecError: names the file and key
            raise ExportLayoutError(str(err)) from err
        if not (export_dir / folder).is_dir():  # the export folder itself: give it its name
            raw = scratch / "raw"
            raw.mkdir()
            (raw / folder).symlink_to(export_dir.resolve(), target_is_directory=True)
            return ExportLayout(raw, registry_dir, names, names)
    return ExportLayout(export_dir, registry_dir, names, names)


def registry_specs(
    registry_dir: Path, names: str | Sequence[str], raw_dir: Path
) -> tuple[list[tuple[RegistrySpec, Path]], list[str]]:
    """Read the mappings of the registries to harmonise.

    Parameters
    ----------
    registry_dir
        Folder of ``<name>.yaml`` mappings.
    names
        ``"all"`` (every mapping whose export folder exists in ``raw_dir``) or a list of names.
    raw_dir
        The dataset folder.

    Returns
    -------
    tuple
        ``[(spec, export folder)]`` in name order, and notes on skipped mappings.

    Raises
    ------
    ExportLayoutError
        For a missing mapping folder, an unknown or folder-less registry named explicitly, a
        mapping file that is invalid (naming file and key), or nothing to harmonise.
    """
    registry_dir = Path(registry_dir)
    if not registry_dir.is_dir():
        msg = f"registry_dir: no mapping folder {registry_dir}"
        raise ExportLayoutError(msg)
    available = {p.stem: p for p in sorted(registry_dir.glob("*.yaml"))}
    explicit = names != "all"
    wanted = (
        sorted(available) if not explicit else ([names] if isinstance(names, str) else list(names))
    )
    out, notes = [], []
    for name in wanted:
        if name not in available:
            msg = f"registries: no mapping {name}.yaml in {registry_dir}; "
            msg += f"available: {sorted(available)}"
            raise ExportLayoutError(msg)
        try:
            spec = read_registry_spec(available[name])
        except ValueError as err:  # RegistrySpecError: names file and key
            raise ExportLayoutError(str(err)) from err
        folder = Path(raw_dir) / spec.folder
        if not folder.is_dir():
            if explicit:
                msg = f"registries: {name}: no export folder {folder}"
                raise ExportLayoutError(msg)
            notes.append(f"{name}: no export folder {spec.folder}/ in this dataset; skipped")
            continue
        out.append((spec, folder))
    if not out:
        msg = f"no registry export of {sorted(available)} found in {raw_dir}"
        raise ExportLayoutError(msg)
    return out, notes


def harmonise_export(
    export: Path, registry_dir: Path, registry: str, *, key: PseudonymKey | bytes
) -> HarmonisedRegistry:
    """Harmonise one registry's export (its folder, or one file of it) with its mapping.

    Parameters
    ----------
    export
        The export folder, or a single file of it (read alone).
    registry_dir, registry
        The mapping folder and the mapping's name (``<registry_dir>/<registry>.yaml``).
    key
        The pseudonymisation secret of the site (the one used in training).

    Raises
    ------
    ExportLayoutError
        No such export, no mapping named, no such mapping, or an invalid mapping.
    """
    if not export.exists():
        msg = f"export_path: {export} does not exist"
        raise ExportLayoutError(msg)
    if not registry:
        msg = (
            "export_registry: name the mapping of the export (e.g. export_registry=smartcare_dach)"
        )
        raise ExportLayoutError(msg)
    mapping = registry_dir / f"{registry}.yaml"
    if not mapping.is_file():
        available = sorted(p.stem for p in registry_dir.glob("*.yaml"))
        msg = (
            f"export_registry: no mapping {mapping.name} in {registry_dir}; available: {available}"
        )
        raise ExportLayoutError(msg)
    try:
        spec = read_registry_spec(mapping)
    except RegistrySpecError as err:
        raise ExportLayoutError(str(err)) from err
    with tempfile.TemporaryDirectory() as tmp:
        folder = export
        if export.is_file():  # one file of the export: read it alone (a copy: the reader
            folder = Path(tmp)  # never follows a link out of the folder it reads)
            shutil.copyfile(export, folder / export.name)
        return harmonise_registry(read_registry(spec, folder), key=key)


def harmonise_registries(
    specs: Sequence[tuple[RegistrySpec, Path]], *, key: PseudonymKey, progress: bool = False
) -> HarmonisedRegistry:
    """Read and harmonise each registry (mapping, folder), then combine them (one bar)."""
    results = []
    with tqdm(total=len(specs), unit="registry", desc="harmonise", disable=not progress) as bar:
        for spec, folder in specs:
            bar.set_postfix_str(spec.name)
            results.append(harmonise_registry(read_registry(spec, folder), key=key))
            bar.update(1)
    return combine_registries(results)
