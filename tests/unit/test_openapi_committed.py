"""web/openapi.json, the API document the page's types are generated from in a package build, is the models' own."""

from __future__ import annotations

import json

from helpers.procs import REPO
from spark_exporter.query.openapi import openapi_document


class TestCommittedOpenApiDocument:
    def test_committed_document_is_what_the_models_give(self) -> None:
        """The committed copy equals openapi_document('dev'); when a model changes, ./dev.sh web rewrites it."""
        committed = json.loads((REPO / "web" / "openapi.json").read_text())
        assert committed == openapi_document("dev"), (
            "web/openapi.json differs from the API models: run ./dev.sh web and commit web/openapi.json")

    def test_committed_bytes_are_the_generators(self) -> None:
        """The file is written as scripts/gen-api.mjs writes it (indent 1, sorted keys, one final newline)."""
        text = (REPO / "web" / "openapi.json").read_text()
        assert text == json.dumps(openapi_document("dev"), indent=1, sort_keys=True) + "\n"
