"""The pages' own files (`streamer/web/static/`: JavaScript, CSS, the icon) and the HTML
templates (`streamer/web/templates/`), shipped inside the package and read once.

Assets are served with an ETag (a 304 to `If-None-Match`) and Cache-Control. The pages link
them as `/static/NAME?v=VERSION` (VERSION from the content): such a URL never changes meaning,
so browsers keep it a year; an unversioned URL is revalidated after five minutes.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from importlib import resources
from string import Template

from aiohttp import web

TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
VERSIONED = "public, max-age=31536000, immutable"
UNVERSIONED = "public, max-age=300"


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    content_type: str
    version: str  # from the content: changes whenever the file does

    @property
    def etag(self) -> str:
        return f'"{self.version}"'


@functools.cache
def assets() -> dict[str, Asset]:
    out = {}
    for entry in resources.files(__package__).joinpath("static").iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in TYPES:
            body = entry.read_bytes()
            out[entry.name] = Asset(body, TYPES[suffix], hashlib.sha256(body).hexdigest()[:16])
    return out


@functools.cache
def template(name: str) -> Template:
    return Template(resources.files(__package__).joinpath("templates", name).read_text(encoding="utf-8"))


def url(name: str) -> str:
    """The versioned URL of an asset, for the pages."""
    return f"/static/{name}?v={assets()[name].version}"


def weight(names: list[str]) -> int:
    return sum(len(assets()[n].body) for n in names)


async def serve(request: web.Request) -> web.Response:
    """GET /static/NAME: the file, or 304 when the browser's copy is current."""
    asset = assets().get(request.match_info["name"])
    if asset is None:
        raise web.HTTPNotFound(text=f"no file {request.match_info['name'][:100]!r} here\n")
    cache = VERSIONED if request.query.get("v") == asset.version else UNVERSIONED
    headers = {"ETag": asset.etag, "Cache-Control": cache, "X-Content-Type-Options": "nosniff"}
    wanted = [tag.strip().removeprefix("W/") for tag in request.headers.get("If-None-Match", "").split(",")]
    if asset.etag in wanted or "*" in wanted:
        return web.Response(status=304, headers=headers)
    return web.Response(body=asset.body, content_type=asset.content_type, charset="utf-8", headers=headers)
