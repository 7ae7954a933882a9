"""The OpenAPI 3.1 document of the ingestion API, served at ``GET /openapi.json``."""

from __future__ import annotations

from typing import Any

from switchboard.adapters import ADAPTERS

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string", "description": "a short machine-readable reason"}},
}
_ANSWER = {
    "type": "object",
    "required": ["event_id", "status"],
    "properties": {
        "event_id": {"type": "string"},
        "status": {"type": "string", "enum": ["accepted", "duplicate", "ignored"]},
        "reason": {"type": "string"},
        "task_id": {"type": "string", "description": "the event's task (accepted or duplicate)"},
    },
}


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def openapi_document() -> dict[str, Any]:
    paths: dict[str, Any] = {
        "/health": {
            "get": {
                "operationId": "health",
                "responses": {"200": {"description": "the API is up", "content": {"application/json": {}}}},
            }
        }
    }
    for platform in sorted(ADAPTERS):
        paths[f"/webhooks/{platform}"] = {
            "post": {
                "operationId": f"webhook_{platform}",
                "summary": f"Receive a signed {platform} webhook; verify, validate and enqueue it.",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "responses": {
                    "200": {"description": "a handshake (ping, url_verification) answered"},
                    "202": {
                        "description": "enqueued, a duplicate, or ignored",
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Answer"}}},
                    },
                    "400": _error("malformed body"),
                    "401": _error("missing or bad signature, or a stale timestamp"),
                    "413": _error("body over 256 KiB"),
                    "415": _error("content type is not application/json"),
                },
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Switchboard ingestion API", "version": "1"},
        "paths": paths,
        "components": {"schemas": {"Answer": _ANSWER, "Error": _ERROR}},
    }
