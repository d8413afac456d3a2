"""Approval steps: escalation and four-eyes, parsed, checked and decided."""

from __future__ import annotations

import pytest

from engine.definitions import compile_text, validate_text
from engine.flows import ApprovalStep
from engine.interpreter import TaskState, decision_problem
from tests.engine.shipped import FLOW_FILE, read

APPROVE_OR_REJECT = "    on: {approve: done, reject: done}\n"


def flow_text(approval: str) -> str:
    """A flow whose first step is an approval for `operator`, due in 4h, with the extra keys in ``approval``."""
    return (
        "kind: flow\nname: approvals\nform: order\nstart: review\nsteps:\n"
        "  - id: review\n    type: approval\n    role: operator\n    due: 4h\n" + approval + "    on_timeout: expired\n"
        "  - {id: done, type: end, status: completed}\n"
        "  - {id: expired, type: end, status: cancelled}\n"
    )


def approval(extra: str = "", on: str = APPROVE_OR_REJECT) -> ApprovalStep:
    return compile_text(flow_text(extra + on)).steps["review"]


def errors_of(text: str) -> list[tuple[str, str]]:
    return [(e.path, e.message) for e in validate_text(text).errors]


# ---- parsing ----------------------------------------------------------------------


def test_escalation_and_four_eyes_are_parsed():
    step = approval("    escalation: {role: admin, due: 20h}\n    four_eyes_above: 10000\n")
    assert (step.role, step.due_seconds, step.escalation_role, step.escalation_seconds, step.four_eyes_above) == (
        "operator",
        4 * 3600,
        "admin",
        20 * 3600,
        10000,
    )
    assert step.phases() == (("operator", 4 * 3600), ("admin", 20 * 3600))


def test_without_escalation_there_is_one_phase_and_no_four_eyes():
    step = approval()
    assert (step.escalation_role, step.escalation_seconds, step.four_eyes_above) == (None, 0, None)
    assert step.phases() == (("operator", 4 * 3600),)
    assert step.needs_two_approvals(1_000_000) is False


def test_shipped_manual_review_escalates_to_admin_with_four_eyes_above_10000():
    step = compile_text(read(FLOW_FILE)).steps["manual_review"]
    assert step.phases() == (("operator", 4 * 3600), ("admin", 20 * 3600))
    assert step.four_eyes_above == 10000


FOUR_EYES = {
    "below the threshold": (10000, 9999.99, False),
    "equal to the threshold: one approval": (10000, 10000, False),
    "a cent above: two approvals": (10000, 10000.01, True),
    "threshold zero, a free order": (0, 0, False),
    "threshold zero, any amount": (0, 0.01, True),
}


@pytest.mark.parametrize("threshold, total, two", FOUR_EYES.values(), ids=FOUR_EYES.keys())
def test_needs_two_approvals(threshold, total, two):
    assert approval(f"    four_eyes_above: {threshold}\n").needs_two_approvals(total) is two


# ---- checks -------------------------------------------------------------------------


BROKEN = {
    "unknown escalation role, with a suggestion": (
        "    escalation: {role: admn, due: 20h}\n" + APPROVE_OR_REJECT,
        [
            (
                "$.steps[0].escalation.role",
                "unknown role 'admn' (did you mean 'admin'?); roles are admin, analyst, operator, channel",
            )
        ],
    ),
    "unknown escalation role, nothing close": (
        "    escalation: {role: boss, due: 20h}\n" + APPROVE_OR_REJECT,
        [("$.steps[0].escalation.role", "unknown role 'boss'; roles are admin, analyst, operator, channel")],
    ),
    "four-eyes on a step without approve": (
        "    four_eyes_above: 100\n    on: {accept: done, reject: done}\n",
        [("$.steps[0].four_eyes_above", "four-eyes applies to an 'approve' decision, which this step lacks")],
    ),
    "escalation due of zero": (
        "    escalation: {role: admin, due: 0s}\n" + APPROVE_OR_REJECT,
        [("$.steps[0].escalation.due", "'0s' must be longer than zero")],
    ),
    "escalation due that is not a duration": (
        "    escalation: {role: admin, due: 1 day}\n" + APPROVE_OR_REJECT,
        [
            (
                "$.steps[0].escalation.due",
                "'1 day' is not a duration; write a number and a unit (ms, s, m, h, d, w), e.g. '30m' or '7d'",
            )
        ],
    ),
    "escalation without due": (
        "    escalation: {role: admin}\n" + APPROVE_OR_REJECT,
        [("$.steps[0].escalation", "'due' is required")],
    ),
    "escalation with an unknown key": (
        "    escalation: {role: admin, due: 1h, to: boss}\n" + APPROVE_OR_REJECT,
        [("$.steps[0].escalation", "unknown key 'to'; allowed here: due, role")],
    ),
    "negative four-eyes threshold": (
        "    four_eyes_above: -1\n" + APPROVE_OR_REJECT,
        [("$.steps[0].four_eyes_above", "-1 is less than the minimum of 0")],
    ),
    "four-eyes threshold that is not a number": (
        "    four_eyes_above: lots\n" + APPROVE_OR_REJECT,
        [("$.steps[0].four_eyes_above", "must be of type number, not str")],
    ),
    "every semantic error at once": (
        "    escalation: {role: admn, due: 1h}\n    four_eyes_above: 5\n    on: {accept: done}\n",
        [
            (
                "$.steps[0].escalation.role",
                "unknown role 'admn' (did you mean 'admin'?); roles are admin, analyst, operator, channel",
            ),
            ("$.steps[0].four_eyes_above", "four-eyes applies to an 'approve' decision, which this step lacks"),
        ],
    ),
}


@pytest.mark.parametrize("extra, expected", BROKEN.values(), ids=BROKEN.keys())
def test_broken_approval_step(extra, expected):
    assert errors_of(flow_text(extra)) == expected


def test_a_sound_approval_step_validates():
    assert (
        errors_of(flow_text("    escalation: {role: admin, due: 20h}\n    four_eyes_above: 0\n" + APPROVE_OR_REJECT))
        == []
    )


# ---- decision_problem with escalation and four-eyes -----------------------------------


@pytest.fixture(scope="module")
def step() -> ApprovalStep:
    return approval(
        "    escalation: {role: admin, due: 20h}\n    four_eyes_above: 10000\n    comment_required: [reject]\n"
    )


OPEN = TaskState("open", role="operator")
ESCALATED = TaskState("open", role="admin")
ONE_APPROVAL = TaskState("open", role="operator", approvals_by=("ann",))

DECISIONS = {
    "operator decides before escalation": (OPEN, "approve", "operator", "ann", None),
    "no role on the task: the step's role decides": (TaskState("open"), "approve", "operator", "ann", None),
    "escalated: operator refused": (
        ESCALATED,
        "approve",
        "operator",
        "ann",
        ("forbidden", "only role 'admin' may decide this task"),
    ),
    "escalated: analyst refused": (
        ESCALATED,
        "approve",
        "analyst",
        "al",
        ("forbidden", "only role 'admin' may decide this task"),
    ),
    "escalated: admin decides": (ESCALATED, "approve", "admin", "root", None),
    "escalated and decided": (
        TaskState("decided", role="admin"),
        "approve",
        "admin",
        "root",
        ("already_decided", "task is already decided"),
    ),
    "same person approves twice": (
        ONE_APPROVAL,
        "approve",
        "operator",
        "ann",
        ("same_person", "ann approved already; four-eyes needs a second person"),
    ),
    "another person approves": (ONE_APPROVAL, "approve", "operator", "bob", None),
    "an admin who approved already": (
        TaskState("open", role="admin", approvals_by=("root",)),
        "approve",
        "admin",
        "root",
        ("same_person", "root approved already; four-eyes needs a second person"),
    ),
    "the first approver may still reject, with a comment": (ONE_APPROVAL, "reject", "operator", "ann", None),
    "wrong role is refused before same person": (
        ONE_APPROVAL,
        "approve",
        "channel",
        "ann",
        ("forbidden", "only role 'operator' may decide this task"),
    ),
}


@pytest.mark.parametrize("task, decision, role, user, expected", DECISIONS.values(), ids=DECISIONS.keys())
def test_decision_problem(step, task, decision, role, user, expected):
    comment = "not our customer" if decision == "reject" else ""
    assert decision_problem(step, task, decision, role, comment, user) == expected


def test_same_person_rejecting_still_needs_a_comment(step):
    assert decision_problem(step, ONE_APPROVAL, "reject", "operator", "", "ann") == (
        "comment_required",
        "a comment is required to reject",
    )
