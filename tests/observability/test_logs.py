import json
import logging

import pytest

from oms.logs import about_order, configure


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_name_the_order_and_its_workflow(capsys, restore_logging):
    configure("INFO", "json")
    log = logging.getLogger("oms.test")
    with about_order("ord_123", "order-web-X-123"):
        log.info("reserved %d lines", 2)
    log.warning("not about an order")

    about, other = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert {k: about[k] for k in ("level", "logger", "message", "order_id", "workflow_id")} == {
        "level": "INFO",
        "logger": "oms.test",
        "message": "reserved 2 lines",
        "order_id": "ord_123",
        "workflow_id": "order-web-X-123",
    }
    assert "time" in about
    assert (other["message"], other["order_id"], other["workflow_id"]) == ("not about an order", None, None)


def test_temporal_loggers_lend_their_workflow_id(capsys, restore_logging):
    configure("INFO", "json")
    logging.getLogger("temporalio.activity").info(
        "activity failed",
        extra={"temporal_activity": {"workflow_id": "order-web-Y", "activity_type": "reserve_stock"}},
    )
    line = json.loads(capsys.readouterr().err)
    assert line["workflow_id"] == "order-web-Y"
    assert line["temporal_activity"]["activity_type"] == "reserve_stock"


def test_text_lines_on_a_terminal_keep_the_order_at_the_end(capsys, restore_logging):
    configure("INFO", "text")
    with about_order("ord_9"):
        logging.getLogger("oms.test").info("audited")
    assert capsys.readouterr().err.rstrip().endswith("oms.test: audited [order_id=ord_9]")
