"""The OpenAPI 3.1 description of the JSON API.

Written by hand to match api.py; tests validate live responses against these
schemas, so a change to one without the other fails the suite.
"""

from __future__ import annotations

KEY_TYPES = ["admin", "workspace_user", "workspace_service"]
STRING_LIST = {"type": "array", "items": {"type": "string"}}
SCOPE_SETS = {"type": "array", "items": STRING_LIST}

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": "string"},
                "suggestions": STRING_LIST,
                "retry_after": {"type": "integer"},
            },
        }
    },
}

CHECK_RESULT = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "allowed",
        "verdict",
        "endpoint",
        "key_type_ok",
        "required",
        "missing",
        "reasons",
        "fix",
        "share_url",
    ],
    "properties": {
        "allowed": {"type": "boolean"},
        "verdict": {"enum": ["allowed", "denied", "unknown"]},
        "endpoint": {
            "type": "object",
            "additionalProperties": False,
            "required": ["method", "path", "plane"],
            "properties": {
                "method": {"type": "string"},
                "path": {"type": "string"},
                "plane": {"enum": ["data", "control"]},
            },
        },
        "key_type_ok": {"type": "boolean"},
        "required": SCOPE_SETS,
        "missing": SCOPE_SETS,
        "reasons": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
        "fix": {
            "type": "object",
            "additionalProperties": False,
            "required": ["summary", "steps"],
            "properties": {"summary": {"type": "string"}, "steps": STRING_LIST},
        },
        "share_url": {"type": "string", "format": "uri"},
    },
}

SCOPE = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "name",
        "description",
        "group",
        "key_types",
        "enabled_at",
        "legacy_twin",
        "introduced_in",
        "jwt_only",
    ],
    "properties": {
        "name": {"type": "string", "pattern": "^[a-z_]+\\.[a-z_]+$"},
        "description": {"type": "string"},
        "group": {"type": "string"},
        "key_types": {"type": "array", "items": {"enum": KEY_TYPES}},
        "enabled_at": {"type": "string"},
        "legacy_twin": {"type": ["string", "null"]},
        "introduced_in": {"type": "string"},
        "jwt_only": {"type": "boolean"},
    },
}

ENDPOINT = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "method",
        "path",
        "plane",
        "summary",
        "area",
        "key_types",
        "required",
        "admin_needs_workspace_id",
        "enterprise_only",
        "provenance",
        "source_url",
        "verified_on",
        "notes",
    ],
    "properties": {
        "method": {"type": "string"},
        "path": {"type": "string"},
        "plane": {"enum": ["data", "control"]},
        "summary": {"type": "string"},
        "area": {"type": "string"},
        "key_types": {"type": "array", "items": {"enum": KEY_TYPES}},
        "required": SCOPE_SETS,
        "admin_needs_workspace_id": {"type": "boolean"},
        "enterprise_only": {"type": "boolean"},
        "provenance": {"enum": ["documented", "inferred"]},
        "source_url": {"type": "string"},
        "verified_on": {"type": ["string", "null"], "format": "date"},
        "notes": {"type": "string"},
    },
}


NULLABLE_STRING = {"type": ["string", "null"]}
PARSE_REQUEST = {
    "type": "object",
    "required": ["text"],
    "properties": {
        "text": {
            "type": "string",
            "pattern": r"\S",
            "description": "The paste: an error body, curl command, raw HTTP, "
            "response headers or SDK error output; at most 1 MB as UTF-8. Text "
            "with a NUL or mostly control characters is refused as not_text.",
        }
    },
}
PARSE_RESULT = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "recognised",
        "summary",
        "looked_for",
        "found",
        "error_code",
        "error",
        "http_status",
        "message",
        "method",
        "path",
        "endpoint",
        "method_guessed",
        "suggestions",
        "workspace_id_sent",
        "workspace_id",
        "key_header",
        "headers_sent",
        "trace_id",
        "not_ab03",
        "masked_body",
        "notes",
        "answers",
        "wizard_url",
    ],
    "properties": {
        "recognised": {"type": "boolean"},
        "summary": {"type": "string"},
        "looked_for": STRING_LIST,
        "found": STRING_LIST,
        "error_code": {"type": ["string", "null"], "pattern": "^AB\\d{2}$"},
        "error": {
            "type": ["object", "null"],
            "additionalProperties": False,
            "required": ["code", "http_status", "title", "meaning"],
            "properties": {
                "code": {"type": "string"},
                "http_status": {"type": "integer"},
                "title": {"type": "string"},
                "meaning": {"type": "string"},
            },
        },
        "http_status": {"type": ["integer", "null"], "minimum": 100, "maximum": 599},
        "message": NULLABLE_STRING,
        "method": NULLABLE_STRING,
        "path": NULLABLE_STRING,
        "endpoint": {
            "type": ["object", "null"],
            "additionalProperties": False,
            "required": ["method", "path", "plane", "area"],
            "properties": {
                "method": {"type": "string"},
                "path": {"type": "string"},
                "plane": {"enum": ["data", "control"]},
                "area": {"type": "string"},
            },
        },
        "method_guessed": {"type": "boolean"},
        "suggestions": STRING_LIST,
        "workspace_id_sent": {"type": ["boolean", "null"]},
        "workspace_id": NULLABLE_STRING,
        "key_header": NULLABLE_STRING,
        "headers_sent": STRING_LIST,
        "trace_id": NULLABLE_STRING,
        "not_ab03": {
            "type": ["object", "null"],
            "additionalProperties": False,
            "required": ["reason", "message"],
            "properties": {
                "reason": {
                    "enum": [
                        "other_code",
                        "html_page",
                        "provider_error",
                        "gateway_failure",
                        "other_status",
                    ]
                },
                "message": {"type": "string"},
            },
        },
        "masked_body": NULLABLE_STRING,
        "notes": STRING_LIST,
        "answers": {
            "type": "object",
            "additionalProperties": False,
            "required": ["scenario", "context", "method", "path", "workspace_id_sent"],
            "properties": {
                "scenario": {"type": "string"},
                "context": {"enum": ["code", None]},
                "method": NULLABLE_STRING,
                "path": NULLABLE_STRING,
                "workspace_id_sent": {"enum": ["yes", "no", None]},
            },
        },
        "wizard_url": {"type": "string", "format": "uri"},
    },
}


def _list_of(name: str, item: dict) -> dict:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["count", name],
        "properties": {
            "count": {"type": "integer", "minimum": 0},
            name: {"type": "array", "items": item},
        },
    }


def _json(schema_ref: str, description: str) -> dict:
    return {
        "description": description,
        "content": {
            "application/json": {
                "schema": {"$ref": f"#/components/schemas/{schema_ref}"}
            }
        },
    }


# api.MAX_PARAM: longer values are refused with a 400.
MAX_PARAM = 2048
# A scope as /check reads it: resource.action, optionally after "portkey.".
_SCOPE = r"(portkey\.[a-z_]+\.[a-z_]+|(?!portkey\.)[a-z_]+\.[a-z_]+)"


def _query(name: str, description: str, schema: dict, required: bool = False) -> dict:
    return {
        "name": name,
        "in": "query",
        "required": required,
        "description": description,
        "schema": {"type": "string", "maxLength": MAX_PARAM, **schema},
    }


def _one_of(words: list[str], blank: bool = False) -> dict:
    """One of ``words``; the API ignores spaces around a value, and with
    ``blank`` an empty value means the default."""
    choice = "|".join(words)
    return {
        "pattern": rf"^\s*({choice}){'?' if blank else ''}\s*$",
        "examples": words,
    }


def openapi_document(server_url: str) -> dict:
    key_type_filter = _query(
        "key_type", "Only items this key type may hold or call.", _one_of(KEY_TYPES)
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Scope Doctor API",
            "version": "1.0.0",
            "description": (
                "Diagnose Portkey 403 AB03 errors, read the scope reference and "
                "parse pasted errors. Nothing you send is stored; every GET "
                "response carries an ETag tied to the data version."
            ),
        },
        "servers": [{"url": server_url.rstrip("/")}],
        "paths": {
            "/api/v1/check": {
                "get": {
                    "operationId": "check",
                    "summary": "Diagnose one call: may this key call this endpoint?",
                    "parameters": [
                        _query(
                            "method",
                            "HTTP method: GET, POST, PUT, PATCH or DELETE, in any "
                            "case. Defaults to GET.",
                            _one_of(
                                [
                                    "[Gg][Ee][Tt]",
                                    "[Pp][Oo][Ss][Tt]",
                                    "[Pp][Uu][Tt]",
                                    "[Pp][Aa][Tt][Cc][Hh]",
                                    "[Dd][Ee][Ll][Ee][Tt][Ee]",
                                ],
                                blank=True,
                            )
                            | {"examples": ["GET", "post"]},
                        ),
                        _query(
                            "path",
                            "The path or full URL that was called.",
                            {"pattern": r"\S"},
                            required=True,
                        ),
                        _query(
                            "key_type",
                            "The key type used; unknown if not given.",
                            _one_of([*KEY_TYPES, "unknown"], blank=True),
                        ),
                        _query(
                            "scopes",
                            "Comma-separated scopes the key holds, each like "
                            "completions.write (a portkey. prefix is allowed); "
                            "omit if unknown.",
                            {
                                "pattern": rf"^\s*{_SCOPE}?\s*(,\s*{_SCOPE}?\s*)*$",
                                "examples": ["completions.write,logs.view"],
                            },
                        ),
                        _query(
                            "workspace_id",
                            "Whether workspace_id was sent (its value is ignored).",
                            {},
                        ),
                        _query(
                            "context",
                            "Where the call was made.",
                            _one_of(
                                ["code", "playground", "prompt_studio", "model_catalog"]
                            ),
                        ),
                    ],
                    "responses": {
                        "200": _json("CheckResult", "The diagnosis."),
                        "304": {"description": "Not modified (If-None-Match matched)."},
                        "400": _json("Error", "A parameter is missing or malformed."),
                        "404": _json("Error", "No known endpoint matches the path."),
                    },
                }
            },
            "/api/v1/scopes": {
                "get": {
                    "operationId": "listScopes",
                    "summary": "Every scope, with where to turn it on.",
                    "parameters": [
                        key_type_filter,
                        _query(
                            "group",
                            "Only scopes of this group.",
                            _one_of(
                                [
                                    "organisation",
                                    "workspace",
                                    "integrations",
                                    "resources",
                                    "monitoring",
                                    "inference",
                                ]
                            ),
                        ),
                    ],
                    "responses": {
                        "200": _json("ScopeList", "The scopes."),
                        "304": {"description": "Not modified."},
                        "400": _json("Error", "A filter value is unknown."),
                    },
                }
            },
            "/api/v1/endpoints": {
                "get": {
                    "operationId": "listEndpoints",
                    "summary": "The endpoint matrix with requirement alternatives.",
                    "parameters": [
                        key_type_filter,
                        _query(
                            "plane", "Only this plane.", _one_of(["data", "control"])
                        ),
                    ],
                    "responses": {
                        "200": _json("EndpointList", "The endpoints."),
                        "304": {"description": "Not modified."},
                        "400": _json("Error", "A filter value is unknown."),
                    },
                }
            },
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This description.",
                    "responses": {"200": {"description": "OpenAPI 3.1 document."}},
                }
            },
            "/api/v1/parse": {
                "post": {
                    "operationId": "parse",
                    "summary": "Read a pasted error, request or SDK output into "
                    "wizard answers; the paste is not stored and secrets are masked.",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ParseRequest"}
                            }
                        },
                    },
                    "responses": {
                        "200": _json("ParseResult", "What was found in the paste."),
                        "400": _json(
                            "Error", "Not JSON, no text, an empty paste or binary data."
                        ),
                        "405": _json("Error", "Only POST is answered."),
                        "413": _json("Error", "The paste is larger than 1 MB."),
                        "429": _json(
                            "Error",
                            "Too many pastes from this address; Retry-After says "
                            "in how many seconds to try again.",
                        ),
                    },
                }
            },
        },
        "components": {
            "schemas": {
                "CheckResult": CHECK_RESULT,
                "Error": ERROR,
                "Scope": SCOPE,
                "Endpoint": ENDPOINT,
                "ScopeList": _list_of("scopes", {"$ref": "#/components/schemas/Scope"}),
                "EndpointList": _list_of(
                    "endpoints", {"$ref": "#/components/schemas/Endpoint"}
                ),
                "ParseRequest": PARSE_REQUEST,
                "ParseResult": PARSE_RESULT,
            }
        },
    }
