"""The web page at ``/`` and the API docs at ``/docs`` and ``/redoc``, all served from the package.

Nothing comes from another origin: the page's HTML, CSS and JavaScript live in ``fuzzykv/serve/page/``
and Swagger UI and ReDoc are vendored under ``page/vendor/`` with their licences. Each asset is
served under a name holding its digest (``/assets/page.3f9c0a1b2d4e.js``), cached for a year, so a
returning browser fetches only the HTML (revalidated by its ETag, usually a 304). The HTML needs no
token: it holds no data, and the page's script sends the token (kept in the tab's ``sessionStorage``)
as a bearer header on its ``/v1`` requests. Every HTML answer carries a Content-Security-Policy that
allows scripts only from this origin and no inline script.

The endpoints are plain ``def``: the first request reads and gzips the assets (about 3 MB, a
fraction of a second) in FastAPI's thread pool, not on the event loop.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import PurePosixPath

from fastapi import APIRouter, Request, Response

from ..errors import error_response

router = APIRouter(include_in_schema=False)

#: The page's policy: scripts, styles, images and requests from this origin only; no inline script or style.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: Swagger UI and ReDoc set inline styles (React, styled-components) and ReDoc searches in a blob: worker;
#: scripts stay same-origin and non-inline.
DOCS_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self' data:; worker-src 'self' blob:; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
ASSET_CACHE = "public, max-age=31536000, immutable"
#: The files served under /assets (path in the package's page folder); HTML templates name them {{asset:NAME}}.
ASSET_FILES = (
    "page.css", "page.js", "docs.js", "favicon.svg",
    "vendor/swagger-ui/swagger-ui-bundle.js", "vendor/swagger-ui/swagger-ui.css", "vendor/redoc/redoc.standalone.js",
)
_PLACEHOLDER = re.compile(r"\{\{(asset|config):([A-Za-z0-9_.\-]+)\}\}")


@dataclass(frozen=True)
class Asset:
    """One file under /assets: its bytes (also gzipped), type and digest-bearing name."""

    name: str
    body: bytes
    media_type: str
    etag: str
    gzipped: bytes = field(repr=False)


@dataclass(frozen=True)
class Assets:
    """The served assets by hashed name, and the hashed name of each file of :data:`ASSET_FILES` by its own name."""

    by_name: dict[str, Asset]
    url_of: dict[str, str]


@cache
def assets() -> Assets:
    """Read (and gzip) the page's assets from the package, once per process."""
    folder = resources.files("fuzzykv.serve") / "page"
    by_name: dict[str, Asset] = {}
    url_of: dict[str, str] = {}
    for path in ASSET_FILES:
        body = (folder / path).read_bytes()
        digest = hashlib.sha256(body).hexdigest()[:12]
        file = PurePosixPath(path)
        media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
        if media_type.startswith("text/") or media_type.endswith(("javascript", "svg+xml")):
            media_type += "; charset=utf-8"
        name = f"{file.stem}.{digest}{file.suffix}"
        by_name[name] = Asset(name, body, media_type, f'"{digest}"', gzip.compress(body, 6, mtime=0))
        url_of[file.name] = f"/assets/{name}"
    return Assets(by_name, url_of)


@cache
def template(name: str) -> str:
    """The text of the page's template ``name``, read from the package once per process."""
    return (resources.files("fuzzykv.serve") / "page" / name).read_text(encoding="utf-8")


def render(name: str, config: dict[str, str]) -> bytes:
    """The HTML template ``name`` with its asset URLs (``{{asset:page.js}}``) and configuration
    (``{{config:token}}``) filled in.
    """
    url_of = assets().url_of

    def fill(match: re.Match[str]) -> str:
        kind, key = match.groups()
        return url_of[key] if kind == "asset" else config[key]

    return _PLACEHOLDER.sub(fill, template(name)).encode()


def _fresh(request: Request, etag: str) -> bool:
    return etag in [tag.strip() for tag in request.headers.get("if-none-match", "").split(",")]


def _html(request: Request, name: str, policy: str) -> Response:
    token = "required" if request.app.state.config.token is not None else "none"
    body = render(name, {"token": token, "openapi": request.app.openapi_url or "/openapi.json"})
    etag = f'"{hashlib.sha256(body).hexdigest()[:16]}"'
    headers = {
        "Content-Security-Policy": policy, "ETag": etag, "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "X-Frame-Options": "DENY",
    }
    if _fresh(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="text/html; charset=utf-8", headers=headers)


@router.api_route("/", methods=["GET", "HEAD"])
def page(request: Request) -> Response:
    """The page: query, pairs, map and info (its data comes from the /v1 endpoints, with the token)."""
    return _html(request, "index.html", PAGE_POLICY)


@router.api_route("/docs", methods=["GET", "HEAD"])
def swagger_ui(request: Request) -> Response:
    """Swagger UI over /openapi.json, from the vendored copy."""
    return _html(request, "docs.html", DOCS_POLICY)


@router.api_route("/redoc", methods=["GET", "HEAD"])
def redoc(request: Request) -> Response:
    """ReDoc over /openapi.json, from the vendored copy."""
    return _html(request, "redoc.html", DOCS_POLICY)


@router.api_route("/assets/{name}", methods=["GET", "HEAD"])
def asset(name: str, request: Request) -> Response:
    """A page asset by its hashed name: the same bytes for as long as the name exists, so cached for a year."""
    found = assets().by_name.get(name)
    if found is None:
        return error_response(404, "NotFound", f"no asset {name!r}; the page names its assets, load / again")
    headers = {"ETag": found.etag, "Cache-Control": ASSET_CACHE, "X-Content-Type-Options": "nosniff",
               "Vary": "Accept-Encoding"}
    if _fresh(request, found.etag):
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(found.gzipped, media_type=found.media_type, headers={**headers, "Content-Encoding": "gzip"})
    return Response(found.body, media_type=found.media_type, headers=headers)
