"""The HTTP API and the search page over an :class:`~hyperalign.index.Index` (FastAPI).

Endpoints: ``POST /search/text``, ``POST /search/shape`` (multipart upload), ``GET /items/{id}`` (a bounded,
subsampled point cloud plus captions and licence), ``GET /hierarchy/{id}`` (nearest more general / more specific
captions and shapes), ``GET /health``; ``/openapi.json`` describes them; ``/`` is the page (``static/``).

Limits (:class:`Limits`) turn oversized requests into 413 / 422 responses with one ``detail`` message. Nothing from a
request becomes a path: item ids are looked up in the index records, and an upload is written to a fresh temporary
directory under a fixed name with one of a few plain formats' extensions.
"""

import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool

from hyperalign.data.formats import PointCloudError, read_point_cloud
from hyperalign.runtime.index import Hit, Index

STATIC_DIR = Path(__file__).with_name("static")
# Plain formats only: HDF5 can link to other files, OBJ to material files, and NPZ archives can inflate far beyond
# the upload cap; none of those is accepted from the network.
UPLOAD_SUFFIXES = (".ply", ".npy", ".off", ".xyz", ".txt", ".csv")
UPLOAD_PATHS = ("/search/shape",)


@dataclass(frozen=True)
class Limits:
    """Request bounds: results per query, query length, upload bytes, points returned per item."""

    max_k: int = 100
    max_query_chars: int = 500
    max_upload_bytes: int = 20_000_000
    max_points: int = 4096


class HitOut(BaseModel):
    rank: int
    kind: Literal["shape", "caption"]
    id: str = Field(description="item id (shapes) or caption:<n> (captions)")
    distance: float = Field(description="exact distance to the query (Lorentz, or 1 - cos)")
    text: str = Field(description="the shape's finest caption, or the caption itself")
    level: str | None = Field(description="caption level (captions only)")
    generality: float | None = Field(description="distance from the origin; smaller = more general (Lorentz only)")
    cone_violation: float | None = Field(
        None, description="hierarchy results: radians outside the entailment cone (0 = inside); null otherwise"
    )


class SearchOut(BaseModel):
    query: str
    target: Literal["shapes", "captions"]
    results: list[HitOut]
    took_ms: float


class CaptionOut(BaseModel):
    text: str
    level: str


class ItemOut(BaseModel):
    id: str
    split: str
    node: str | None
    captions: list[CaptionOut]
    license: str | None
    creator: str | None
    n_points: int = Field(description="points returned (a seeded subsample when the cloud has more)")
    positions: list[float] = Field(description="x, y, z of each point, flattened")
    colors: list[float] | None = Field(description="r, g, b in [0, 1] of each point, flattened; null without colour")


class HierarchyOut(BaseModel):
    id: str
    more_general: list[HitOut]
    more_specific: list[HitOut]


class HealthOut(BaseModel):
    status: Literal["ok"]
    items: int
    captions: int
    space: str
    curvature: float | None
    kind: str
    backend: str = Field(description="where the points live: faiss or milvus")
    dataset: str
    limits: dict[str, int]


def _hits_out(hits: list[Hit]) -> list[HitOut]:
    return [HitOut(**asdict(h)) for h in hits]


def _text_query_model(limits: Limits) -> type[BaseModel]:
    class TextQuery(BaseModel):
        model_config = ConfigDict(extra="forbid")

        query: str = Field(min_length=1, max_length=limits.max_query_chars, examples=["a tall chair with armrests"])
        k: int = Field(10, ge=1, le=limits.max_k)
        target: Literal["shapes", "captions"] = "shapes"

        @field_validator("query")
        @classmethod
        def _not_blank(cls, text: str) -> str:
            if not text.strip():
                raise ValueError("must contain some non-whitespace text")
            return text

    return TextQuery


def _describe(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            parts.append(f"request body: not valid JSON ({err.get('ctx', {}).get('error', 'decode error')})")
            continue
        loc = list(err.get("loc", ()))
        if loc and loc[0] in ("body", "query", "path", "header"):
            loc = loc[1:]  # where the value came from; the field path follows
        where = ".".join(str(p) for p in loc)
        parts.append(f"{where or 'request'}: {err.get('msg', 'invalid').removeprefix('Value error, ')}")
    return "; ".join(parts)


class _BodyLimit:
    """ASGI middleware: requests to ``paths`` with a body over ``limit`` bytes get 413, announced or not."""

    def __init__(self, app: Any, limit: int, paths: tuple[str, ...]) -> None:
        self.app, self.limit, self.paths = app, limit, paths

    async def _reject(self, send: Any) -> None:
        body = JSONResponse(
            {"detail": f"upload too large: the limit is {self.limit} bytes ({self.limit / 1e6:g} MB)"}, status_code=413
        )
        await send({"type": "http.response.start", "status": 413, "headers": body.raw_headers})
        await send({"type": "http.response.body", "body": body.body})

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._reject(send)
            return
        state = {"received": 0, "exceeded": False, "replied": False}

        async def counted_receive() -> Any:
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.limit:
                    state["exceeded"] = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Any) -> None:
            if not state["exceeded"]:
                await send(message)
            elif not state["replied"]:
                state["replied"] = True
                await self._reject(send)

        await self.app(scope, counted_receive, guarded_send)


def create_app(index: Index, limits: Limits | None = None) -> FastAPI:
    """The FastAPI application serving ``index`` with ``limits``."""
    limits = limits or Limits()
    TextQuery = _text_query_model(limits)
    app = FastAPI(
        title="hyperalign search",
        version="1",
        description="Hierarchical text <-> 3D point cloud search in hyperbolic (Lorentz) space.",
    )
    app.add_middleware(_BodyLimit, limit=limits.max_upload_bytes, paths=UPLOAD_PATHS)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _describe(exc)}, status_code=422)

    @app.get("/health", response_model=HealthOut)
    def health() -> HealthOut:
        return HealthOut(
            status="ok",
            items=len(index.shapes),
            captions=len(index.captions),
            space=index.shapes.space,
            curvature=index.shapes.curvature,
            kind=index.shapes.spec.kind,
            backend=index.shapes.backend,
            dataset=str(index.info.get("dataset", "")),
            limits={k: int(v) for k, v in asdict(limits).items()},
        )

    @app.post("/search/text", response_model=SearchOut)
    def search_text(body: TextQuery) -> SearchOut:  # type: ignore[valid-type]
        start = time.perf_counter()
        hits = index.search_text(body.query, body.k, body.target)
        return SearchOut(query=body.query, target=body.target, results=_hits_out(hits), took_ms=_ms(start))

    @app.post("/search/shape", response_model=SearchOut)
    async def search_shape(
        file: UploadFile = File(description=f"a point cloud: {', '.join(UPLOAD_SUFFIXES)}"),
        k: int = Form(10, ge=1, le=limits.max_k),
        target: Literal["shapes", "captions"] = Form("captions"),
    ) -> SearchOut:
        start = time.perf_counter()
        name = Path(file.filename or "").name
        suffix = Path(name).suffix.lower()
        if suffix not in UPLOAD_SUFFIXES:
            allowed = ", ".join(UPLOAD_SUFFIXES)
            raise HTTPException(415, f"file {name!r}: unsupported type {suffix or '(none)'}; upload one of {allowed}")
        data = await file.read(limits.max_upload_bytes + 1)
        if len(data) > limits.max_upload_bytes:
            raise HTTPException(413, f"upload too large: the limit is {limits.max_upload_bytes} bytes")
        with tempfile.TemporaryDirectory(prefix="hyperalign-upload-") as tmp:
            path = Path(tmp) / f"upload{suffix}"
            path.write_bytes(data)
            try:
                cloud = await run_in_threadpool(lambda: read_point_cloud(path).as_array(index.retriever.channels))
            except PointCloudError as e:
                raise HTTPException(422, str(e).replace(str(path), f"file {name!r}")) from None
        hits = await run_in_threadpool(index.search_shape, cloud, k, target)
        return SearchOut(query=name, target=target, results=_hits_out(hits), took_ms=_ms(start))

    @app.get("/items/{item_id}", response_model=ItemOut)
    def item(item_id: str) -> ItemOut:
        record = _record(index, item_id)
        try:
            xyz, rgb = index.item_points(item_id, limits.max_points)
        except (PointCloudError, ValueError) as e:
            raise HTTPException(500, f"item {item_id!r}: its point file cannot be read ({e})") from None
        return ItemOut(
            id=record.id,
            split=record.split,
            node=record.node,
            captions=[CaptionOut(text=c.text, level=c.level) for c in record.captions],
            license=record.license,
            creator=record.creator,
            n_points=len(xyz),
            positions=[round(float(v), 5) for v in xyz.reshape(-1)],
            colors=None if rgb is None else [round(float(v), 4) for v in rgb.reshape(-1)],
        )

    @app.get("/hierarchy/{item_id}", response_model=HierarchyOut)
    def hierarchy(item_id: str, k: int = 5, strict: bool = False) -> HierarchyOut:
        """More general (nearer the origin, cone containing the item) and more specific (farther, inside its cone)
        captions and shapes. ``strict=false`` (default) fills up with the nearest misses, ranked by cone violation."""
        if not 1 <= k <= limits.max_k:
            raise HTTPException(422, f"k: must be between 1 and {limits.max_k}")
        _record(index, item_id)
        if not index.hyperbolic:
            raise HTTPException(409, "this index holds a cosine (Euclidean) space: it has no entailment cones")
        return HierarchyOut(
            id=item_id,
            more_general=_hits_out(index.more_general(item_id, k, strict)),
            more_specific=_hits_out(index.more_specific(item_id, k, strict)),
        )

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


def _record(index: Index, item_id: str) -> Any:
    try:
        return index.item(item_id)
    except KeyError:
        raise HTTPException(404, f"no item {item_id!r} in this index") from None


def _ms(start: float) -> float:
    return round(1000.0 * (time.perf_counter() - start), 2)
