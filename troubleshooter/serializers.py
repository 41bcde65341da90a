"""Plain-dict views of snapshot items, shared by the JSON API and exports."""

from __future__ import annotations

from scopes.snapshot import EndpointInfo, ScopeInfo


def scope_item(scope: ScopeInfo) -> dict:
    return {
        "name": scope.name,
        "description": scope.description,
        "group": scope.group,
        "key_types": sorted(scope.key_types),
        "enabled_at": scope.enabled_at,
        "legacy_twin": scope.legacy_twin,
        "introduced_in": scope.introduced_in,
        "jwt_only": scope.jwt_only,
    }


def endpoint_item(endpoint: EndpointInfo) -> dict:
    return {
        "method": endpoint.method,
        "path": endpoint.path,
        "plane": endpoint.plane,
        "summary": endpoint.summary,
        "area": endpoint.area,
        "key_types": sorted(endpoint.key_types),
        "required": [sorted(alt) for alt in endpoint.alternatives],
        "admin_needs_workspace_id": endpoint.admin_needs_workspace_id,
        "enterprise_only": endpoint.enterprise_only,
        "provenance": endpoint.provenance,
        "source_url": endpoint.source_url,
        "verified_on": (
            endpoint.verified_on.isoformat() if endpoint.verified_on else None
        ),
        "notes": endpoint.notes,
    }
