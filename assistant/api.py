"""The JSON HTTP API beside the UI, mounted on Gradio's own FastAPI server (same port, same login).

- `POST /api/ask` {question, history} → exactly `assistant ask --json`'s object
- `GET /api/health` → index, embedder, agreements, version
- `GET /api/openapi.json` → the OpenAPI schema of these routes

Why beside Gradio's `/ask`: Gradio's queue costs 40–70 ms of CPU per request (events, SSE, session
state); a plain route costs about a millisecond on top of the engine. Concurrency is bounded: at
most `api_concurrency` answers are computed at once and `api_queue` wait; beyond that a request gets
503 with Retry-After at once instead of piling up. Every error is `{"error": "..."}` with a 4xx code.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Literal, TypeVar

import anyio
from fastapi import APIRouter, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.routing import BaseRoute

from assistant.app_chat import ChatService
from assistant.errors import AssistantError
from assistant.login import Login, basic_user
from assistant.query import clean
from assistant.types import Message

log = logging.getLogger(__name__)
MAX_BODY = 1_000_000  # bytes: far above any question (cut at 100,000 characters anyway), far below harm
RETRY_AFTER = "1"  # seconds: an answer takes tens of milliseconds, so a queue drains fast
T = TypeVar("T")


# --- the contract, for validation and the OpenAPI schema ----------------------------------------------


class Turn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["user", "assistant"]
    content: str


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: str = Field(description="the question, in Japanese or English", examples=["バスのことはどっちの市？"])
    history: list[Turn] = Field(default_factory=list, description="earlier turns, oldest first, for follow-ups")


class CitationOut(BaseModel):
    id: str
    label: str
    kind: str
    text: str


class AnswerOut(BaseModel):
    question: str
    answer: str
    refused: bool
    outcome: Literal["answer", "nearest", "refusal"] | None = None
    citations: list[CitationOut] = Field(description="most relevant first")
    language: Literal["ja", "en"]
    latency_ms: float
    notices: list[str]


class ErrorOut(BaseModel):
    error: str


class Overloaded(Exception):
    """More requests are in flight than the API computes plus queues."""


class Gate:
    """At most `workers` calls run at once (in threads) and `queue` wait; the next one is refused at once."""

    def __init__(self, workers: int, queue: int) -> None:
        self.limiter = anyio.CapacityLimiter(max(1, workers))
        self.capacity = max(1, workers) + max(0, queue)
        self.inside = 0  # only touched on the event loop, so no lock

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        if self.inside >= self.capacity:
            raise Overloaded
        self.inside += 1
        try:
            return await anyio.to_thread.run_sync(function, *args, limiter=self.limiter)
        finally:
            self.inside -= 1


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


# --- the routes ----------------------------------------------------------------------------------------


def api_routes(service: ChatService, logins: Sequence[Login] | None = None) -> list[BaseRoute]:
    """The /api routes over `service`, for FastAPI(routes=...) (so they come before Gradio's own)."""
    settings = service.settings
    gate = Gate(settings.api_concurrency, settings.api_queue)
    router = APIRouter(prefix="/api")
    errors: dict[int | str, dict[str, Any]] = {code: {"model": ErrorOut} for code in (400, 401, 413, 422, 503)}

    def denied(request: Request) -> JSONResponse | None:
        """The app's login: Gradio's session cookie (a logged-in page) or HTTP Basic with the same user:password."""
        if not logins or _session_user(request) or basic_user(request.headers.get("authorization"), list(logins)):
            return None
        return error(401, "login required: send HTTP Basic credentials (curl -u user:password)", _CHALLENGE)

    @router.post(
        "/ask",
        summary="Answer a question about the agreement, with citations",
        responses={200: {"model": AnswerOut}, **errors},
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(AskRequest)}}}
        },
    )
    async def ask(request: Request) -> JSONResponse:
        if response := denied(request):
            return response
        try:
            question, history = _ask_request(await _body(request))
            answer = await gate.run(lambda: service.answer(question, history, source="http"))
        except ApiError as failure:
            return error(failure.status, str(failure))
        except Overloaded:
            return error(503, "too many requests at once: retry shortly", {"Retry-After": RETRY_AFTER})
        except AssistantError as failure:
            return error(422, str(failure))
        except Exception:
            log.exception("/api/ask failed")
            return error(500, "internal error: the question could not be answered; please try again")
        return JSONResponse(answer.to_json())

    @router.get("/health", summary="Whether the index is loaded, with what embedder and agreements")
    async def health(request: Request) -> JSONResponse:
        return denied(request) or JSONResponse(_health(service))

    @router.get("/openapi.json", include_in_schema=False)
    async def openapi(request: Request) -> JSONResponse:
        return denied(request) or JSONResponse(schema)

    schema = _schema(router.routes)
    return list(router.routes)


_CHALLENGE = {"WWW-Authenticate": 'Basic realm="assistant", charset="UTF-8"'}


def _session_user(request: Request) -> str | None:
    """The user Gradio's login cookie names (so a logged-in browser page can call the API too)."""
    app = request.app
    cookie_id, tokens = getattr(app, "cookie_id", None), getattr(app, "tokens", None) or {}
    if cookie_id is None:
        return None
    token = request.cookies.get(f"access-token-{cookie_id}") or request.cookies.get(
        f"access-token-unsecure-{cookie_id}"
    )
    return tokens.get(token) if token else None


async def _body(request: Request) -> object:
    """The JSON body, whatever Content-Type says (`curl -d` sends form encoding), bounded in size."""
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiError(413, f"request body over {MAX_BODY:,} bytes: send one question at a time")
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        raise ApiError(400, 'empty body: send JSON like {"question": "バスのことはどっちの市？"}')
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError:
        raise ApiError(400, "the body is not UTF-8: send UTF-8 JSON") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as failure:
        raise ApiError(400, f"malformed JSON ({failure.msg} at line {failure.lineno} column {failure.colno})") from None
    except (ValueError, RecursionError):
        raise ApiError(400, "malformed JSON (a number too long or nesting too deep)") from None


def _ask_request(body: object) -> tuple[str, list[Message]]:
    if not isinstance(body, dict):
        raise ApiError(400, 'the body must be a JSON object like {"question": "…", "history": []}')
    try:
        request = AskRequest.model_validate(body)
    except ValidationError as failure:
        first = failure.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        raise ApiError(422, f"{where}: {first['msg']}") from None
    if not clean(request.question, limit=100)[0]:
        raise ApiError(422, "question: empty (markup, control and invisible characters are ignored)")
    return request.question, [Message(t.role, t.content) for t in request.history]


def _health(service: ChatService) -> dict[str, object]:
    engine = service.engine
    engine.refresh()
    index = engine.index
    agreements = []
    for slug, scope in engine.state.scopes.items():
        preamble = scope.unit("preamble")
        title = preamble.text.split("\n", 1)[0] if preamble else ""
        agreements.append({"id": slug, "title": title, "parties": dict(scope.parties), "units": len(scope.units)})
    return {
        "status": "ok",
        "version": _version(),
        "index": {"present": bool(index.chunks), "chunks": len(index.chunks), "collection": index.info.collection},
        "embedder": index.info.embedder,
        "agreements": agreements,
    }


def _version() -> str:
    try:
        return version("assistant")
    except PackageNotFoundError:
        return "unknown"


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _schema(routes: Sequence[BaseRoute]) -> dict[str, Any]:
    """OpenAPI for the /api routes; the request body is parsed by hand (see `_body`), so its models are added here."""
    schema = get_openapi(
        title="連携協約アシスタント HTTP API", version=_version(), routes=list(routes), description=__doc__
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (AskRequest, Turn):
        found = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components |= found.pop("$defs", {})
        components[model.__name__] = found
    return schema
