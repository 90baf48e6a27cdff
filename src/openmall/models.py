"""Imports every domain's tables so that the metadata (and Alembic) sees them all."""

from __future__ import annotations


def load_all() -> None:
    import openmall.catalog.models  # noqa: F401
    import openmall.kernel.events.models  # noqa: F401
    import openmall.malls.models  # noqa: F401
    import openmall.oauth.models  # noqa: F401
    import openmall.webhooks.models  # noqa: F401
