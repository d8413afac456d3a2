"""One handler turns every typed business failure into the HTTP answer clients have always had."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

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
from services.fulfilment.carriers import TrackingConflict, TrackingInvalid, UnknownParcel
from services.fulfilment.picking import WaveRefused
from services.orders.changes import ChangeNotTaken, ChangeUnavailable, UnknownOrder
from services.orders.channels import SignatureRefused
from services.orders.decisions import (
    DecisionInvalid,
    FlowUnreachable,
    TaskForbidden,
    TaskTaken,
    UnknownTask,
    refused_by_flow,
)
from services.orders.importer import ImportRefused, ImportUnavailable
from services.orders.intake import IntakeRejected, IntakeUnavailable
from services.orders.outbox import BacklogFull
from services.returns.requests import ReturnInvalid, ReturnNotAllowed, ReturnOrderUnknown, ReturnUnavailable
from services.stock.ledger import InvalidStockChange, UnknownStockItem
from web import errors
from web.printing import NothingToPrint, NotPrintableYet, TemplateFailed


def answer(exc: Exception):
    """What a route that raises ``exc`` answers."""
    app = FastAPI()
    errors.install(app)

    @app.get("/")
    def route():
        raise exc

    return TestClient(app).get("/")


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        (Invalid, 422),
        (NotFound, 404),
        (Conflict, 409),
        (Forbidden, 403),
        (Unauthenticated, 401),
        (Unavailable, 503),
        (StepFailed, 422),
        (DomainError, 400),
    ],
)
def test_each_kind_has_its_status_and_the_message_as_detail(kind, status):
    response = answer(kind("some_code", "what went wrong", field="qty"))
    assert (response.status_code, response.json()) == (status, {"detail": "what went wrong"})
    assert response.headers.get("Retry-After") == ("5" if kind is Unavailable else None)


def test_field_errors_are_listed():
    response = answer(Invalid("bad", "invalid thing", details=[FieldError("a", "is wrong"), FieldError("", "too")]))
    assert (response.status_code, response.json()) == (
        422,
        {"detail": "invalid thing", "errors": [{"field": "a", "message": "is wrong"}, {"field": "", "message": "too"}]},
    )


def test_details_that_are_no_field_errors_stay_out_of_the_body():
    response = answer(Conflict("busy", "try later", details={"order_id": "o1"}))
    assert response.json() == {"detail": "try later"}


def test_a_subclass_takes_the_status_of_its_nearest_kind():
    class Family(DomainError):
        pass

    class Member(Family, Forbidden):
        pass

    assert answer(Member("no", "not you")).status_code == 403
    assert answer(Family("odd", "no kind")).status_code == 400


SERVICE_FAILURES = [
    # (failure, status, body) as the routes answered when each mapped its own
    (
        IntakeRejected([FieldError("lines[0].sku", "Line 1: unknown SKU 'X'")]),
        422,
        {"detail": "invalid order", "errors": [{"field": "lines[0].sku", "message": "Line 1: unknown SKU 'X'"}]},
    ),
    (
        IntakeUnavailable("the order could not be started: down"),
        503,
        {"detail": "the order could not be started: down"},
    ),
    (BacklogFull("3 accepted orders are waiting"), 503, {"detail": "3 accepted orders are waiting"}),
    (ImportRefused("x.txt: cannot import"), 422, {"detail": "x.txt: cannot import"}),
    (ImportUnavailable("cannot reach Temporal"), 503, {"detail": "cannot reach Temporal"}),
    (
        SignatureRefused("signature_mismatch", "X-OMS-Signature does not match the body"),
        401,
        {"detail": "X-OMS-Signature does not match the body"},
    ),
    (UnknownOrder("order_not_found", "no order 'o1'"), 404, {"detail": "no order 'o1'"}),
    (ChangeNotTaken("order_shipped", "order o1 has shipped"), 409, {"detail": "order o1 has shipped"}),
    (
        ChangeUnavailable("the order's flow is unavailable, try again: x"),
        503,
        {"detail": "the order's flow is unavailable, try again: x"},
    ),
    (UnknownTask("task_not_found", "no task 't1'"), 404, {"detail": "no task 't1'"}),
    (TaskTaken("task_claimed", "task is claimed by ann"), 409, {"detail": "task is claimed by ann"}),
    (
        TaskForbidden("wrong_role", "only role 'finance' may claim this task"),
        403,
        {"detail": "only role 'finance' may claim this task"},
    ),
    (DecisionInvalid("scan_mismatch", "MUG-LOGO: scanned 1 of 2"), 422, {"detail": "MUG-LOGO: scanned 1 of 2"}),
    (
        FlowUnreachable("the order's flow is unavailable, try again: x"),
        503,
        {"detail": "the order's flow is unavailable, try again: x"},
    ),
    (
        UnknownParcel("parcel_not_found", "tracking_number: no parcel 'SIMNOPE'", field="tracking_number"),
        404,
        {"detail": "tracking_number: no parcel 'SIMNOPE'"},
    ),
    (
        TrackingInvalid("unknown_tracking_type", "type: 'lost' is not one of ...", field="type"),
        422,
        {"detail": "type: 'lost' is not one of ..."},
    ),
    (
        TrackingConflict("parcel_delivered", "parcel SIM1 is delivered already"),
        409,
        {"detail": "parcel SIM1 is delivered already"},
    ),
    (
        WaveRefused("nothing_to_pick", "no order in warehouse W1 is ready to pick"),
        409,
        {"detail": "no order in warehouse W1 is ready to pick"},
    ),
    (
        ReturnInvalid([FieldError("reason", "Reason is required")]),
        422,
        {"detail": "invalid return request", "errors": [{"field": "reason", "message": "Reason is required"}]},
    ),
    (
        ReturnOrderUnknown([FieldError("order_id", "no order 'o1'")], "order_not_found"),
        404,
        {"detail": "invalid return request", "errors": [{"field": "order_id", "message": "no order 'o1'"}]},
    ),
    (
        ReturnNotAllowed([FieldError("lines[0].qty", "only 1 left")], "over_returned"),
        409,
        {"detail": "invalid return request", "errors": [{"field": "lines[0].qty", "message": "only 1 left"}]},
    ),
    (
        ReturnUnavailable("the return could not be started, try again: x"),
        503,
        {"detail": "the return could not be started, try again: x"},
    ),
    (
        UnknownStockItem("unknown_sku", "unknown SKU 'X'", field="sku"),
        404,
        {"detail": "unknown SKU 'X'", "errors": [{"field": "sku", "message": "unknown SKU 'X'"}]},
    ),
    (
        InvalidStockChange("qty_too_small", "qty must be at least 1", field="qty"),
        422,
        {"detail": "qty must be at least 1", "errors": [{"field": "qty", "message": "qty must be at least 1"}]},
    ),
    (NothingToPrint("shipment_not_found", "no shipment 9"), 404, {"detail": "no shipment 9"}),
    (NotPrintableYet("no_parcels", "order o1 has no parcels yet"), 409, {"detail": "order o1 has no parcels yet"}),
    (TemplateFailed("template_failed", "undefined name"), 422, {"detail": "undefined name"}),
]


@pytest.mark.parametrize(
    ("failure", "status", "body"), SERVICE_FAILURES, ids=[type(failure).__name__ for failure, *_ in SERVICE_FAILURES]
)
def test_service_failures_answer_as_before(failure, status, body):
    response = answer(failure)
    assert (response.status_code, response.json()) == (status, body)
    assert ("Retry-After" in response.headers) == (status == 503)


def test_field_error_failures_still_read_as_their_errors():
    """Logs, the importer and the exchange step read these as text: every field and message."""
    rejected = IntakeRejected([FieldError("a", "is wrong"), FieldError("b", "too")])
    assert (str(rejected), rejected.message, rejected.code) == ("a: is wrong; b: too", "invalid order", "order_invalid")
    assert str(ReturnInvalid([FieldError("reason", "Reason is required")])) == "reason: Reason is required"


def test_failures_an_activity_can_wait_out_are_retryable():
    """An activity that meets one (the exchange step's intake, the restock's stock change) lets Temporal retry it."""
    for failure in (
        IntakeUnavailable("x"),
        BacklogFull("x"),
        ReturnUnavailable("x"),
        FlowUnreachable("x"),
        UnknownStockItem("unknown_warehouse", "x", field="warehouse"),
        InvalidStockChange("lot_required", "x", field="lot"),
    ):
        assert failure.retryable
    assert not IntakeRejected([FieldError("a", "b")]).retryable


def test_the_decision_validator_s_refusals_keep_their_status():
    from temporalio.exceptions import ApplicationError

    statuses = {
        kind: errors.status_for(refused_by_flow(ApplicationError("no", type=kind)))
        for kind in (
            "already_decided",
            "same_person",
            "forbidden",
            "unknown_decision",
            "comment_required",
            "scan_mismatch",
            "qc_invalid",
            "something_new",
        )
    }
    assert statuses == {
        "already_decided": 409,
        "same_person": 409,
        "forbidden": 403,
        "unknown_decision": 422,
        "comment_required": 422,
        "scan_mismatch": 422,
        "qc_invalid": 422,
        "something_new": 409,
    }
    assert refused_by_flow(ApplicationError("needs a comment", type="comment_required")).code == "comment_required"
