"""Mapping rules a partner edits as YAML: SKUs, marketplaces, statuses, carriers, GL accounts.

Defaults ship in `defaults/`; a file of the same name in SAGE_AMAZON_MAPPING_DIR replaces the default. That folder
is set once for every process in the instance's settings file (`<data dir>/sage-amazon.toml`, see sage_amazon.config)
or in the environment; a folder that does not exist is an error, never a silent fallback to the defaults.
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
        folder = Path(override).expanduser()
        if not folder.is_dir():  # a mistyped folder must not silently fall back to the shipped defaults
            raise MappingError(f"SAGE_AMAZON_MAPPING_DIR (from {config.source('SAGE_AMAZON_MAPPING_DIR')}) names "
                               f"{folder}, which is not a folder")
        candidate = folder / name
        if candidate.exists():
            return candidate
    return DEFAULTS_DIR / name


def load_yaml(name: str) -> Any:
    import yaml

    path = mapping_file(name)
    try:
        with path.open(encoding="utf-8") as handle:  # libyaml's safe loader: accounts.yaml is read at every step
            return yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except FileNotFoundError:
        raise MappingError(f"mapping file not found: {path}") from None
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: not valid YAML: {exc}") from None
