"""Admin API of the catalog (being written)."""

from __future__ import annotations

from openmall.oauth.guard import AdminRouter

router = AdminRouter(prefix="/api/v2/admin", tags=["Admin API: catalog"])
