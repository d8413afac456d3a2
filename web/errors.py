"""Error responses: every 4xx names the field or definition path.

Services raise typed failures (``services.errors``); the class alone decides the
status (``STATUS``) and one handler writes the body: ``{"detail": message}``,
plus ``errors: [{field, message}]`` when the failure carries field errors.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from engine.errors import InvalidDefinition
from engine.forms import FieldError
from services.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    StepFailed,
    Unauthenticated,
    Unavailable,
)

# The status of each kind of failure; a class not listed takes that of its nearest listed base.
STATUS: dict[type[DomainError], int] = {
    Invalid: 422,
    NotFound: 404,
    Conflict: 409,
    Forbidden: 403,
    Unauthenticated: 401,
    Unavailable: 503,
    StepFailed: 422,
    DomainError: 400,
}
# How long a client should wait before sending again what an unavailable dependency refused.
RETRY_AFTER_SECONDS = 5


def status_for(exc: DomainError) -> int:
    """The HTTP status of ``exc``: that of the first of its classes (in method resolution order) in STATUS."""
    return next(STATUS[cls] for cls in type(exc).__mro__ if cls in STATUS)


def error_body(exc: DomainError) -> dict:
    body: dict = {"detail": exc.message}
    if isinstance(exc.details, list) and exc.details and all(isinstance(e, FieldError) for e in exc.details):
        body["errors"] = [{"field": e.field, "message": e.message} for e in exc.details]
    return body


def error_response(exc: DomainError) -> JSONResponse:
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if isinstance(exc, Unavailable) else None
    return JSONResponse(error_body(exc), status_code=status_for(exc), headers=headers)


def _field(loc: tuple) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path")]
    out = ""
    for part in parts:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _request_invalid(_: Request, exc: RequestValidationError):
        errors = []
        for error in exc.errors():
            if error.get("type") == "json_invalid":
                errors.append(
                    {"field": "", "message": f"malformed JSON: {error.get('ctx', {}).get('error', error['msg'])}"}
                )
            else:
                errors.append({"field": _field(tuple(error["loc"])), "message": error["msg"]})
        return JSONResponse({"detail": "invalid request", "errors": errors}, status_code=422)

    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError):
        return error_response(exc)

    @app.exception_handler(InvalidDefinition)
    async def _definition(_: Request, exc: InvalidDefinition):
        return JSONResponse(
            {
                "detail": "invalid definition",
                "valid": False,
                "errors": [{"path": e.path, "message": e.message} for e in exc.errors],
            },
            status_code=422,
        )
