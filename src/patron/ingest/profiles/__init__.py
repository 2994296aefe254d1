"""Column-mapping profiles: how a source layout maps onto Patron's canonical columns.

A profile is data (a :class:`Profile`); the shipped ones are ``generic``, ``shopify``, ``taobao``
and ``cdnow``; any other layout is described by a mapping file (TOML, see docs/ingestion.md).
"""

from __future__ import annotations

from patron.ingest.profiles.base import Profile, Returns
from patron.ingest.profiles.registry import PROFILES, load_mapping, resolve

__all__ = ["PROFILES", "Profile", "Returns", "load_mapping", "resolve"]
