"""Where flowyml keeps things: the one default, read from the environment once."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import msgspec

__all__ = ("FlowymlConfig", "load_config")


class FlowymlConfig(msgspec.Struct, frozen=True, kw_only=True):
    """Resolved locations of the metadata store and the artifact store.

    :param home: folder for the zero-config defaults (``FLOWYML_HOME``, default ``./.flowyml``)
    :param store: metadata store URL (``FLOWYML_STORE``, default ``sqlite:///<home>/metadata.db``)
    :param artifacts: artifact store URL (``FLOWYML_ARTIFACTS``, default ``file://<home>/artifacts``)
    """

    home: str
    store: str
    artifacts: str


def load_config(environ: Mapping[str, str] | None = None) -> FlowymlConfig:
    """Build the configuration from ``environ`` (default: :data:`os.environ`)."""
    env = os.environ if environ is None else environ
    home = Path(env.get("FLOWYML_HOME") or ".flowyml").expanduser().absolute()
    store = env.get("FLOWYML_STORE") or f"sqlite:///{home / 'metadata.db'}"
    artifacts = env.get("FLOWYML_ARTIFACTS") or f"file://{home / 'artifacts'}"
    return FlowymlConfig(home=str(home), store=store, artifacts=artifacts)
