"""Error responses: every 4xx names the field or definition path."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from engine.errors import InvalidDefinition
from services.orders.intake import IntakeRejected, IntakeUnavailable


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
                errors.append({"field": "", "message": f"malformed JSON: {error.get('ctx', {}).get('error', error['msg'])}"})
            else:
                errors.append({"field": _field(tuple(error["loc"])), "message": error["msg"]})
        return JSONResponse({"detail": "invalid request", "errors": errors}, status_code=422)

    @app.exception_handler(IntakeRejected)
    async def _intake(_: Request, exc: IntakeRejected):
        return JSONResponse(
            {"detail": "invalid order", "errors": [{"field": e.field, "message": e.message} for e in exc.errors]},
            status_code=exc.status_code,
        )

    @app.exception_handler(IntakeUnavailable)
    async def _unavailable(_: Request, exc: IntakeUnavailable):
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(InvalidDefinition)
    async def _definition(_: Request, exc: InvalidDefinition):
        return JSONResponse(
            {"detail": "invalid definition", "valid": False,
             "errors": [{"path": e.path, "message": e.message} for e in exc.errors]},
            status_code=422,
        )
