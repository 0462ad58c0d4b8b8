"""How the OpenAPI schema (/v1/schema) describes our authentication: a bearer API key."""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "api.auth.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema) -> dict:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API key minted by `manage.py create_api_key`; each key has scopes (docs/api.md).",
        }


def require_polymorphic_bodies(result: dict, generator, request, public) -> dict:
    """Mark a body required when every shape it may take has required fields (drf-spectacular leaves it optional).

    The decision body is `oneOf` ApproveInput / DenyInput, each requiring
    `decision`: without this the schema would promise that a decision with no
    body is accepted (Schemathesis sends one and holds the 400 against it).
    """
    schemas = result.get("components", {}).get("schemas", {})
    for item in result.get("paths", {}).values():
        for operation in item.values():
            body = operation.get("requestBody") if isinstance(operation, dict) else None
            if not body or body.get("required"):
                continue
            for content in body.get("content", {}).values():
                ref = content.get("schema", {}).get("$ref", "")
                shapes = schemas.get(ref.rsplit("/", 1)[-1], {}).get("oneOf", [])
                if shapes and all(
                    schemas.get(s.get("$ref", "").rsplit("/", 1)[-1], {}).get("required") for s in shapes
                ):
                    body["required"] = True
    return result
