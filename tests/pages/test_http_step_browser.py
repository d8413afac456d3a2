"""An http step in the designer, in a real browser: its stored test cases run with their scripted answers, the
case says what the step sent and the answer it took, and the diagram draws the step."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.integration.test_http_step import FLOW, PORT, SECRET_ENV, by_url

SHOTS = Path(os.environ.get("OMS_TEST_SHOTS", "/tmp/oms-shots"))
SHOTS.mkdir(parents=True, exist_ok=True)
CASES = """\
tests:
  - name: a risky score is held
    responses: {score: {status: 200, body: {score: 91}}}
    expect: {path: [score, decide, held], status: on_hold}
  - name: an unknown customer
    responses: {score: {status: 404}}
    expect: {end: unknown_customer}
"""


def _type_over(page: Page, text: str) -> None:
    """Select everything in the editor and type ``text`` over it (as a paste would)."""
    page.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(text)


def test_the_designer_runs_an_http_steps_cases_with_their_scripted_answers(stack, signed_in_at):
    name = f"http_designer_{uuid.uuid4().hex[:8]}"
    text = FLOW.replace("__NAME__", name).replace("__WHERE__", by_url()).replace("__SECRET__", SECRET_ENV) + CASES
    stack.publish(text)

    page = signed_in_at("analyst", f"/definitions/flow/{name}")
    expect(page.locator("[data-role=status]")).to_have_text("Valid: no problems found.")
    passed = page.locator("table.tests tr.ok")
    expect(passed).to_have_count(2)
    expect(passed.first).to_contain_text("a risky score is held")
    expect(passed.first).to_contain_text(
        f"path: score > decide > held; score: POST http://127.0.0.1:{PORT}/v1/score/TEST-1 answered 200 (scripted)"
    )
    expect(page.locator("svg.flow-diagram g.node[data-step='score'] text.detail")).to_have_text("http POST 127.0.0.1")

    # The analyst scripts another answer: the case fails and says where the flow went instead.
    _type_over(page, text.replace("{status: 200, body: {score: 91}}", "{status: 404}"))
    expect(page.locator("[data-role=status]")).to_have_text("1 problem found.")
    failed = page.locator("table.tests tr.refused")
    expect(failed).to_have_count(1)
    expect(failed).to_contain_text("a risky score is held")
    expect(failed).to_contain_text("expected path score > decide > held, got score > unknown_customer")
    expect(failed).to_contain_text("answered 404 (scripted)")
    page.screenshot(path=str(SHOTS / "designer_http_step_cases.png"), full_page=True)
