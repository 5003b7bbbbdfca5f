"""`GET /docs/api`: the JSON API's reference, rendered on the server from web/static/openapi.yaml.

No JavaScript viewer: the page is plain HTML tables (paths, methods, parameters, request bodies,
responses, schemas), every text from the file escaped by Jinja, so it works under the app's CSP
(`script-src 'self'`, no inline styles) and needs nothing vendored. It lives under /docs/, not /api/:
/api/ routes take only bearer tokens and answer JSON, while this page is for logged-in staff.
The file itself is served at /static/openapi.yaml as application/yaml (see `yaml_mimetype`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from flask import Blueprint, Flask, render_template, request
from markupsafe import Markup

from web import markdown
from web.access import READ, roles
from web.render import sanitize

bp = Blueprint("apidocs", __name__)

SPEC = Path(__file__).resolve().parent / "static" / "openapi.yaml"
METHODS = ("get", "put", "post", "patch", "delete", "head", "options")
YAML_TYPE = "application/yaml; charset=utf-8"


@bp.get("/docs/api")
@roles(*READ)
def index():
    return render_template("api_docs.html", doc=describe_spec(SPEC, SPEC.stat().st_mtime_ns))


@lru_cache(maxsize=4)
def describe_spec(path: Path, _mtime: int) -> dict[str, Any]:
    """The spec as the template reads it; cached per file and version (the file's mtime)."""
    spec = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return describe(spec if isinstance(spec, dict) else {})


def describe(spec: dict[str, Any]) -> dict[str, Any]:
    """Flatten an OpenAPI 3 document into rows for tables: references to shared schemas become links
    (by name), inline objects their own property tables, and shared responses are looked up."""
    info = spec.get("info") or {}
    operations = []
    for path, item in (spec.get("paths") or {}).items():
        for method in METHODS:
            operation = (item or {}).get(method)
            if isinstance(operation, dict):
                operations.append(_operation(spec, path, method, operation))
    schemas = [{"name": name, **_schema(spec, schema)}
               for name, schema in ((spec.get("components") or {}).get("schemas") or {}).items()]
    return {"title": str(info.get("title", "")), "version": str(info.get("version", "")),
            "description": str(info.get("description", "")),
            "servers": [str((s or {}).get("url", "")) for s in spec.get("servers") or []],
            "security": _security(spec), "operations": operations, "schemas": schemas}


def _operation(spec: dict, path: str, method: str, operation: dict) -> dict[str, Any]:
    parameters = [_parameter(spec, _resolve(spec, p)) for p in operation.get("parameters") or []]
    body = _resolve(spec, operation.get("requestBody") or {})
    responses = []
    for code, response in (operation.get("responses") or {}).items():
        ref = _ref_name(response)
        response = _resolve(spec, response)
        responses.append({"code": str(code), "ref": ref, "description": str(response.get("description", "")),
                          "content": _content(spec, response.get("content"))})
    return {"id": f"op-{method}-{path}".replace("/", "-").replace("{", "").replace("}", ""),
            "path": path, "method": method.upper(), "summary": str(operation.get("summary", "")),
            "description": str(operation.get("description", "")), "operation_id": operation.get("operationId"),
            "parameters": parameters, "responses": responses,
            "body": {"required": bool(body.get("required")), "content": _content(spec, body.get("content"))}
            if body else None}


def _parameter(spec: dict, parameter: dict) -> dict[str, Any]:
    schema = _schema(spec, parameter.get("schema") or {})
    return {"name": str(parameter.get("name", "")), "in": str(parameter.get("in", "")),
            "required": bool(parameter.get("required")), "description": str(parameter.get("description", "")),
            **schema}


def _content(spec: dict, content: Any) -> list[dict[str, Any]]:
    """Each media type of a body or response with its schema."""
    return [{"media_type": str(media), **_schema(spec, (body or {}).get("schema") or {})}
            for media, body in (content or {}).items()]


def _schema(spec: dict, schema: Any) -> dict[str, Any]:
    """{"type": text, "ref": shared schema name or None, "enum", "properties": rows or None, "description"}."""
    if not isinstance(schema, dict):
        return {"type": "", "ref": None, "enum": [], "properties": None, "description": "", "parts": []}
    ref = _ref_name(schema)
    if ref:
        return {"type": ref, "ref": ref, "enum": [], "properties": None, "description": "", "parts": []}
    properties = None
    if isinstance(schema.get("properties"), dict):
        required = set(schema.get("required") or [])
        properties = [{"name": str(name), "required": name in required, **_schema(spec, value)}
                      for name, value in schema["properties"].items()]
    return {"type": _type_text(schema), "ref": None, "enum": [str(v) for v in schema.get("enum") or []],
            "properties": properties, "description": str(schema.get("description", "")),
            "parts": [_schema(spec, part) for part in schema.get("allOf") or []]}


def _type_text(schema: dict) -> str:
    """"string", "integer | null", "array of Item", "date-time string", "all of: …"."""
    kind = schema.get("type")
    text = " | ".join(str(k) for k in kind) if isinstance(kind, list) else str(kind or "")
    if schema.get("format"):
        text = f"{text} ({schema['format']})"
    if kind == "array" and isinstance(schema.get("items"), dict):
        items = schema["items"]
        text = f"array of {_ref_name(items) or _type_text(items)}"
    if schema.get("allOf"):
        text = "all of"
    if "default" in schema:
        text = f"{text}, default {schema['default']}"
    if "minimum" in schema or "maximum" in schema:
        text = f"{text}, {schema.get('minimum', '…')}–{schema.get('maximum', '…')}"
    return text


def _security(spec: dict) -> list[str]:
    schemes = (spec.get("components") or {}).get("securitySchemes") or {}
    return [f"{name}: {(schemes.get(name) or {}).get('type', '')} {(schemes.get(name) or {}).get('scheme', '')}".strip()
            for requirement in spec.get("security") or [] for name in (requirement or {})]


def _ref_name(value: Any) -> str | None:
    ref = value.get("$ref") if isinstance(value, dict) else None
    return str(ref).rsplit("/", 1)[-1] if ref else None


def _resolve(spec: dict, value: Any) -> dict:
    """A local `$ref` ("#/components/…") looked up (one level; the file's refs are not chained); else itself."""
    ref = value.get("$ref") if isinstance(value, dict) else None
    if not ref:
        return value if isinstance(value, dict) else {}
    found: Any = spec
    for part in str(ref).lstrip("#/").split("/"):
        found = found.get(part) if isinstance(found, dict) else None
    return found if isinstance(found, dict) else {}


def yaml_mimetype(response: Any) -> Any:
    """/static/*.yaml as YAML text (Python's mimetypes knows no .yaml, so it went out as octet-stream and
    browsers downloaded it instead of showing it)."""
    if request.endpoint == "static" and request.path.endswith((".yaml", ".yml")):
        response.headers["Content-Type"] = YAML_TYPE
    return response


def markdown_inline(text: str | None) -> Markup:
    """A summary or description from the spec with its `code` and links marked up: escaped by
    web.markdown, then through the nh3 allow-list like every formatted text."""
    return sanitize(markdown.inline(text or ""))


def markdown_block(text: str | None) -> Markup:
    """A multi-line description (paragraphs, lists) from the spec, likewise escaped and sanitised."""
    return sanitize(markdown.to_html(text, heading_offset=2))


def register(app: Flask) -> None:
    app.register_blueprint(bp)
    app.after_request(yaml_mimetype)
    app.jinja_env.filters["md_inline"] = markdown_inline
    app.jinja_env.filters["md_block"] = markdown_block
