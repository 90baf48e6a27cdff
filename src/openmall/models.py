"""Imports every domain's tables (so that the metadata and Alembic see them all) and its event types
(so that the event registry knows them all, in every process)."""

from __future__ import annotations


def load_all() -> None:
    import openmall.catalog.events  # noqa: F401
    import openmall.catalog.models  # noqa: F401
    import openmall.customers.events  # noqa: F401
    import openmall.customers.models  # noqa: F401
    import openmall.kernel.events.models  # noqa: F401
    import openmall.malls.models  # noqa: F401
    import openmall.oauth.events  # noqa: F401
    import openmall.oauth.models  # noqa: F401
    import openmall.orders.events  # noqa: F401
    import openmall.orders.models  # noqa: F401
    import openmall.promotions.events  # noqa: F401
    import openmall.promotions.models  # noqa: F401
    import openmall.webhooks.models  # noqa: F401
