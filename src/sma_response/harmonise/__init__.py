"""Registry exports to harmonised common-data-model tables.

The public API::

    from sma_response.harmonise import read_registry_spec, read_registry, harmonise_registry
"""

from __future__ import annotations

from sma_response.harmonise.harmonise import (
    HarmonisedRegistry,
    cast_cdm,
    combine_registries,
    harmonise_registry,
    mask_identifiers,
)
from sma_response.harmonise.io import RawRegistry, read_registry, read_registry_spec
from sma_response.harmonise.linkage import LinkageSpec, link_patients, linkage_quality
from sma_response.harmonise.pseudonym import PseudonymKey, pseudonymise, resolve_key
from sma_response.harmonise.quality import AccountingError, check_accounting, summarise
from sma_response.harmonise.spec import RegistrySpec, RegistrySpecError, parse_registry_spec

__all__ = [
    "AccountingError",
    "HarmonisedRegistry",
    "LinkageSpec",
    "PseudonymKey",
    "RawRegistry",
    "RegistrySpec",
    "RegistrySpecError",
    "cast_cdm",
    "check_accounting",
    "combine_registries",
    "harmonise_registry",
    "link_patients",
    "linkage_quality",
    "mask_identifiers",
    "parse_registry_spec",
    "pseudonymise",
    "read_registry",
    "read_registry_spec",
    "resolve_key",
    "summarise",
]
