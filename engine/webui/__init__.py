"""The WebUI: a TTS page and a Talk page, every asset served by the engine (no CDN)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, RedirectResponse

STATIC = Path(__file__).parent / "static"
_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css"}
router = APIRouter(include_in_schema=False)


@router.get("/")
async def index() -> RedirectResponse:
    """The UI starts on the Talk page."""
    return RedirectResponse("/ui/talk.html")


@router.get("/ui/{name}")
async def asset(name: str) -> FileResponse:
    """A static asset by bare file name (no paths)."""
    path = STATIC / name
    if "/" in name or "\\" in name or name.startswith(".") or not path.is_file():
        raise HTTPException(404)
    return FileResponse(path, media_type=_TYPES.get(path.suffix, "application/octet-stream"))
