"""Web config helpers: basic-auth headers."""

from __future__ import annotations

import base64


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
