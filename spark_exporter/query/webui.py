"""The built-in live page (the Command Center front end in ``web/``), served by ``spark-exporter api`` at ``/``.

The package build (setup.py: ``pip install .``, ``pip wheel .``, an sdist's wheel) builds ``web/`` into
the wheel as ``spark_exporter/query/webui/``, and fails rather than ship a wheel without it. An editable
install (``pip install -e .``) builds nothing: ``./dev.sh web`` (which ``./dev.sh demo``, ``setup`` and
``test`` run when needed) writes the page into the clone's ``spark_exporter/query/webui/`` (not
committed). Without it ``/`` is a short page that says how to build it. Only files of that directory
are served (no path from the request reaches the filesystem), with a Content-Security-Policy that
allows no third-party requests.
"""

from __future__ import annotations

import re
from importlib import resources

from aiohttp import web

_ASSET_RE = re.compile(r"^[A-Za-z0-9_.-]{1,200}$")
_TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png",
          ".woff2": "font/woff2", ".json": "application/json"}
# The page loads its own scripts and styles only; React sets inline style attributes.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'")
#: Paths the bearer token does not guard: the page asks for the token itself.
PUBLIC_PREFIXES = ("/assets/",)
PUBLIC_PATHS = frozenset({"/", "/index.html"})

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>spark-exporter API</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40em; margin: 3em auto">
<h1>spark-exporter API</h1>
<p>The live page was not built into this installation (an editable install, <code>pip install -e .</code>,
does not build it). Build it in the clone with <code>./dev.sh web</code>, or install with
<code>pip install .</code>, which builds it; or use the JSON API directly:
<a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.</p>
</body></html>
"""


def _root() -> resources.abc.Traversable:
    return resources.files("spark_exporter.query").joinpath("webui")


def is_public(path: str) -> bool:
    """Whether ``path`` belongs to the page rather than the API (no bearer token needed)."""
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


async def index(request: web.Request) -> web.Response:
    """GET / and /index.html: the built Command Center page (no-cache).

    Without a built front end (web/ not built into the package), the NOT_BUILT placeholder page.
    """
    page = _root().joinpath("index.html")
    if not page.is_file():
        return web.Response(text=NOT_BUILT, content_type="text/html", headers={"Content-Security-Policy": CSP})
    return web.Response(body=page.read_bytes(), content_type="text/html",
                        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"})


async def asset(request: web.Request) -> web.Response:
    """GET /assets/{name}: a built, content-hashed asset, cached as immutable; 404 for other names."""
    name = request.match_info["name"]
    if not _ASSET_RE.match(name) or name.startswith("."):
        raise web.HTTPNotFound()
    f = _root().joinpath("assets").joinpath(name)
    if not f.is_file():
        raise web.HTTPNotFound()
    suffix = name[name.rfind("."):]
    # Vite names assets by content hash, so they never change under one name.
    return web.Response(body=f.read_bytes(), content_type=_TYPES.get(suffix, "application/octet-stream"),
                        headers={"Cache-Control": "public, max-age=31536000, immutable",
                                 "Content-Security-Policy": CSP})


def add_routes(app: web.Application) -> None:
    """Serve the page at ``/`` and its assets under ``/assets/``."""
    app.router.add_get("/", index)
    app.router.add_get("/index.html", index)
    app.router.add_get("/assets/{name}", asset)
