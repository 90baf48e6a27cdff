"""What the app platform emits (see kernel.events)."""

from __future__ import annotations

from typing import Any

from openmall.kernel.events import register
from openmall.kernel.timeutil import iso
from openmall.oauth.models import App, Install

_EXAMPLE = {"client_id": "fFjAv3gbDwpiUsY9GqozJw", "name": "Stock sync", "scopes": ["mall.read_product"],
            "installed_at": "2026-11-27T18:00:00+09:00"}  # fmt: skip
APP_INSTALLED = register("app.installed", "mall.read_application", "An app was installed on the mall", _EXAMPLE)
APP_DELETED = register("app.deleted", "mall.read_application", "An app was uninstalled from the mall", _EXAMPLE)


def install_data(app: App, install: Install, timezone: str) -> dict[str, Any]:
    return {"client_id": app.client_id, "name": app.listed_name, "scopes": install.scopes,
            "installed_at": iso(install.installed_at, timezone)}  # fmt: skip
