"""Validating live API answers against the OpenAPI document."""

from __future__ import annotations

from typing import Any

from openapi_schema_validator import OAS31Validator


def validate(doc: dict[str, Any], template: str, status: int, body: Any) -> None:
    OAS31Validator(response_schema(doc, template, status)).validate(body)


def response_schema(doc: dict[str, Any], template: str, status: int) -> dict[str, Any]:
    """The document's JSON schema for a GET on ``template`` answered with ``status``, refs resolvable."""
    response = doc["paths"][template]["get"]["responses"][str(status)]
    return {**response["content"]["application/json"]["schema"], "components": doc["components"]}
