"""Mapping rules a partner edits as YAML: SKUs, marketplaces, statuses, carriers, GL accounts.

Defaults ship in `defaults/`; a file of the same name in SAGE_AMAZON_MAPPING_DIR replaces the default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

DEFAULTS_DIR = Path(__file__).parent / "defaults"


class MappingError(ValueError):
    """A mapping file is missing or malformed; the message names the file."""


def mapping_file(name: str) -> Path:
    """The file a partner edits if present, else the shipped default."""
    from sage_amazon import config

    override = config.get("SAGE_AMAZON_MAPPING_DIR")
    if override:
        candidate = Path(override).expanduser() / name
        if candidate.exists():
            return candidate
    return DEFAULTS_DIR / name


def load_yaml(name: str) -> Any:
    import yaml

    path = mapping_file(name)
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.safe_load(handle)
    except FileNotFoundError:
        raise MappingError(f"mapping file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: not valid YAML: {exc}") from None
