"""The `http` flow step in the engine: validation at its paths, the rendered request, where an answer leads,
stored test cases with scripted answers, what-if with recorded ones, the diagram."""

from __future__ import annotations

import pytest

from engine.definitions import load, parse_published, validate_text
from engine.diagram import layout_flow
from engine.http_steps import HttpResponse, error_key, outcome_of
from engine.replay import TimelineLine
from engine.testcases import example_order, walk_flow
from engine.whatif import RecordedOrder, flow_whatif

FLOW = """\
kind: flow
name: http_demo
form: order
start: score
steps:
  - id: score
    type: http
    method: POST
    url: https://risk.example.com/v1/score/{{ order.external_id | urlencode }}
    headers:
      Authorization: {secret_env: OMS_HTTP_SECRET_RISK, prefix: "Bearer "}
      X-Channel: "{{ order.channel }}"
    body: '{"order": {{ order.id | tojson }}, "total": {{ order.total }}}'
    save:
      score: body.score
      risky: body.score > 80
    timeout: 5s
    retry: {max_attempts: 4, backoff: 100ms, max_backoff: 1s}
    next: decide
    on_error:
      404: unknown_customer
      4xx: held
      timeout: held
  - id: decide
    type: switch
    cases:
      - when: "results.score.risky"
        next: held
    default: done
  - id: held
    type: end
    status: on_hold
  - id: unknown_customer
    type: end
    status: unknown_customer
  - id: done
    type: end
    status: completed
"""


def flow(text: str = FLOW):
    source = validate_text(text)
    assert not source.errors, source.errors
    return parse_published(text)


def errors(text: str) -> list[tuple[str, str]]:
    return [(e.path, e.message) for e in load(text).errors]


def test_the_request_is_rendered_over_the_order_with_secrets_by_name_only():
    step = flow().steps["score"]
    order = example_order({"external_id": "W 1/2"})
    request = step.call.request({"order": order, "audit": {}, "results": {}, "events": {}})
    assert request.method == "POST"
    assert request.url == "https://risk.example.com/v1/score/W%201/2"
    assert request.body == '{"order": "ord_test", "total": 19.0}'
    assert dict(request.headers) == {"X-Channel": "web", "Content-Type": "application/json"}
    assert [(s.name, s.env, s.prefix) for s in request.secrets] == [
        ("Authorization", "OMS_HTTP_SECRET_RISK", "Bearer ")
    ]
    assert "Bearer" not in repr(request.headers)


def test_an_answer_is_saved_and_a_failing_save_expression_gives_null_and_says_why():
    call = flow().steps["score"].call
    assert call.saved(HttpResponse(200, {"score": 95})) == ({"score": 95, "risky": True}, [])
    # A text answer has no score: null, and the comparison with null fails and says so.
    assert call.saved(HttpResponse(200, "not json")) == (
        {"score": None, "risky": None},
        ["save risky: expression 'body.score > 80' failed: vmError: Opcode Compare: Unsupported type"],
    )
    assert call.timeout_seconds == 5 and call.max_attempts == 4 and call.backoff_seconds == 0.1


@pytest.mark.parametrize(
    ("failure", "outcome", "key"),
    [
        ("http_404", "404", "404"),  # the status wins over its class
        ("http_409", "409", "4xx"),
        ("http_503", "503", None),
        ("http_timeout", "timeout", "timeout"),
        ("http_unreachable", "unreachable", None),
        ("http_refused", None, None),  # the outbound rules: for an operator's repair, never an on_error
        ("out_of_stock", None, None),
    ],
)
def test_a_failure_goes_to_the_status_then_its_class(failure, outcome, key):
    on_error = flow().steps["score"].on_error
    assert outcome_of(failure) == outcome
    assert (error_key(on_error, outcome) if outcome else None) == key


def test_a_stored_case_takes_its_scripted_answer_and_a_switch_branches_on_what_was_saved():
    text = FLOW + (
        "tests:\n"
        "  - name: a low score goes on\n"
        "    responses: {score: {status: 200, body: {score: 12}}}\n"
        "    expect: {path: [score, decide, done], status: completed}\n"
        "  - name: a high score is held\n"
        "    responses: {score: {status: 200, body: {score: 95}}}\n"
        "    expect: {path: [score, decide, held], status: on_hold}\n"
        "  - name: an unknown customer\n"
        "    responses: {score: {status: 404}}\n"
        "    expect: {end: unknown_customer}\n"
        "  - name: no answer in time\n"
        "    responses: {score: {error: timeout}}\n"
        "    expect: {end: held}\n"
        "  - name: nothing scripted takes the example answer\n"
        "    expect: {end: done}\n"
    )
    source = load(text)
    assert not source.errors, source.errors
    assert [t.passed for t in source.tests] == [True] * 5, [t.detail for t in source.tests]
    first = source.tests[0]
    assert first.detail == (
        "path: score > decide > done; score: POST https://risk.example.com/v1/score/TEST-1 answered 200 (scripted)"
    )
    assert first.outcome["http"] == [
        {
            "step": "score",
            "method": "POST",
            "url": "https://risk.example.com/v1/score/TEST-1",
            "answer": "200",
            "source": "scripted",
            "body": '{"order": "ord_test", "total": 19.0}',
        }
    ]
    assert source.tests[3].detail.endswith("got no answer (timeout) (scripted)")
    assert source.tests[4].detail.endswith("answered 200 (example)")


def test_a_case_whose_answer_leads_elsewhere_fails_at_its_path_and_an_unmapped_answer_fails_the_step():
    text = FLOW + (
        "tests:\n"
        "  - name: expects completion but the service says 404\n"
        "    responses: {score: {status: 404}}\n"
        "    expect: {status: completed}\n"
        "  - name: a 503 the flow does not map\n"
        "    responses: {score: [{status: 503}]}\n"
        "    expect: {status: failed}\n"
    )
    source = load(text)
    assert [(e.path, e.message) for e in source.errors] == [
        (
            "$.tests[0]",
            "test 'expects completion but the service says 404' failed: expected status completed, got "
            "unknown_customer (path: score > unknown_customer; score: POST "
            "https://risk.example.com/v1/score/TEST-1 answered 404 (scripted))",
        ),
        (
            "$.tests[1]",
            "test 'a 503 the flow does not map' failed: step 'score': POST https://risk.example.com/v1/score/TEST-1 "
            "answered 503 (scripted), which the flow does not handle (path: score; score: POST "
            "https://risk.example.com/v1/score/TEST-1 answered 503 (scripted))",
        ),
    ]


def test_responses_name_http_steps_only():
    text = FLOW + (
        "tests:\n"
        "  - name: wrong steps\n"
        "    responses: {decide: {status: 200}, scor: {status: 200}}\n"
        "    expect: {end: done}\n"
    )
    assert errors(text) == [
        ("$.tests[0].responses.scor", "unknown step 'scor' (did you mean 'score'?)"),
        ("$.tests[0].responses.decide", "step 'decide' is not an http step"),
    ]


def test_a_plain_http_url_to_another_host_an_inline_secret_and_other_mistakes_are_refused_at_their_paths():
    bad = (
        FLOW.replace("https://risk.example.com", "http://risk.example.com")
        .replace('X-Channel: "{{ order.channel }}"', 'X-Api-Key: "abc123"\n      x-channel: "{{ ordr.channel }}"')
        .replace("risky: body.score > 80", "risky: body.score >")
        .replace("timeout: 5s", "timeout: 2m")
        .replace("      4xx: held\n", "      4xx: hold\n")
    )
    assert errors(bad) == [
        ("$.steps[0].on_error.4xx", "unknown step 'hold' (did you mean 'held'?)"),
        (
            "$.steps[0].url",
            "must be https: plain http is accepted only to this machine (localhost, 127.0.0.1); for a plain-http "
            "service in your network, name it as an endpoint in OMS_HTTP_ENDPOINTS",
        ),
        (
            "$.steps[0].headers.x-channel",
            "unknown name 'ordr' (did you mean 'order'?); this template sees order, audit, results, events",
        ),
        (
            "$.steps[0].headers.X-Api-Key",
            "header 'X-Api-Key' carries a credential: never write it here (definitions are readable by every user); "
            "name the variable that holds it: {secret_env: OMS_HTTP_SECRET_..., prefix: 'Bearer '}",
        ),
        (
            "$.steps[0].save.risky",
            "expression does not compile: parserError: Unexpected end of unary expression at (12, 12)",
        ),
        (
            "$.steps[0].timeout",
            "at most 60s per attempt; for longer work let the other system call back and wait for its event "
            "with a wait step",
        ),
    ]


@pytest.mark.parametrize(
    ("old", "new", "path", "message"),
    [
        (
            "url: https://risk.example.com/v1/score/{{ order.external_id | urlencode }}",
            "url: https://{{ order.channel }}.example.com/v1",
            "$.steps[0].url",
            "placeholders may come only after the host, e.g. https://api.example.com/orders/{{ order.id }}",
        ),
        (
            "url: https://risk.example.com",
            "url: https://me:pw@risk.example.com",
            "$.steps[0].url",
            "a URL must not hold a user or password: send the credential in a header with secret_env",
        ),
        (
            "url: https://risk.example.com/v1/score/{{ order.external_id | urlencode }}",
            "endpoint: risk\n    url: https://risk.example.com/v1",
            "$.steps[0]",
            "say where the request goes: `url` or `endpoint`, one of them",
        ),
        (
            "url: https://risk.example.com/v1/score/{{ order.external_id | urlencode }}",
            "url: https://risk.example.com/v1\n    path: /score",
            "$.steps[0].path",
            "`path` follows an `endpoint`; with `url` write the whole URL",
        ),
        ("method: POST", "method: GET", "$.steps[0].body", "a GET request has no body"),
        (
            "      timeout: held\n",
            "      timeout: held\n      200: done\n",
            "$.steps[0].on_error.200",
            "'200' is not an outcome of an http step: a status (404), a class (4xx, 5xx), timeout or unreachable",
        ),
        (
            "      risky: body.score > 80\n",
            "      risky: body.score > 80\n      status: body.status\n",
            "$.steps[0].save.status",
            "'status' is always saved (the answer's status)",
        ),
        (
            "backoff: 100ms, max_backoff: 1s",
            "backoff: 10s, max_backoff: 1s",
            "$.steps[0].retry.max_backoff",
            "must not be shorter than `backoff`",
        ),
        (
            'X-Channel: "{{ order.channel }}"',
            'X-Channel: "{{ order.channel }}"\n      x-CHANNEL: web',
            "$.steps[0].headers.x-CHANNEL",
            "header 'x-CHANNEL' is given twice (names are not case-sensitive)",
        ),
        (
            "{secret_env: OMS_HTTP_SECRET_RISK,",
            "{secret_env: DATABASE_URL,",
            "$.steps[0].headers.Authorization.secret_env",
            "'DATABASE_URL' is not a secret's variable: name an OMS_..._SECRET... environment variable, "
            "e.g. OMS_CHANNEL_SECRET_WEB",
        ),
    ],
)
def test_each_bad_http_step_is_refused_naming_its_path(old, new, path, message):
    assert old in FLOW
    assert (path, message) in errors(FLOW.replace(old, new, 1))


def test_plain_http_to_this_machine_and_an_endpoint_are_accepted():
    local = FLOW.replace("https://risk.example.com", "http://127.0.0.1:8099")
    assert errors(local) == []
    endpoint = FLOW.replace(
        "url: https://risk.example.com/v1/score/{{ order.external_id | urlencode }}",
        "endpoint: risk\n    path: /v1/score/{{ order.external_id }}",
    )
    request = flow(endpoint).steps["score"].call.request({"order": example_order({})})
    assert (request.url, request.endpoint, request.path, request.target) == (
        "",
        "risk",
        "/v1/score/TEST-1",
        "<risk>/v1/score/TEST-1",
    )


def test_what_if_replays_the_recorded_answer_and_an_order_that_never_called_takes_the_example():
    live = flow()
    # The draft holds from a score of 50: the recorded answer (70) now leads to held.
    draft = flow(FLOW.replace("body.score > 80", "body.score > 50"))
    called = RecordedOrder(
        "called",
        example_order({}),
        {},
        None,
        timeline=(
            TimelineLine("http_response", "score", {"status": 200, "body": {"score": 70}}),
            TimelineLine("completed", "done", {}),
        ),
    )
    not_found = RecordedOrder(
        "not_found", example_order({}), {}, None, timeline=(TimelineLine("http_error", "score", {"outcome": "404"}),)
    )
    fresh = RecordedOrder("fresh", example_order({}), {}, None)
    report = flow_whatif(draft, live, [called, not_found, fresh], "live version v1")
    assert [(c.order_id, c.before, c.after) for c in report.changed] == [
        ("called", ("score", "decide", "done"), ("score", "decide", "held"))
    ]
    assert report.stops == {"held": 1, "unknown_customer": 1, "done": 1}


def test_the_walk_renders_what_it_would_send_and_the_diagram_draws_the_step():
    walk = walk_flow(flow(), example_order({}), responses={"score": [{"status": 200, "body": {"score": 1}}]})
    assert walk.path == ("score", "decide", "done")
    assert [str(e) for e in walk.exchanges] == [
        "score: POST https://risk.example.com/v1/score/TEST-1 answered 200 (scripted)"
    ]
    raw = load(FLOW).raw
    assert raw is not None
    layout = layout_flow(raw)
    node = next(n for n in layout.nodes if n.id == "score")
    assert (node.type, node.detail) == ("http", "http POST risk.example.com")
    labels = sorted(e.label for e in layout.edges if e.source == "score")
    assert labels == ["", "error 404", "error 4xx", "error timeout"]


def test_a_return_flows_http_step_sees_the_return():
    text = """\
kind: flow
name: return_http
serves: return
form: return_request
start: tell_erp
steps:
  - id: tell_erp
    type: http
    method: POST
    url: https://erp.example.com/returns
    body: '{"reason": {{ return.reason | tojson }}, "order": {{ order.id | tojson }}}'
    next: done
  - id: done
    type: end
    status: completed
"""
    request = flow(text).steps["tell_erp"].call.request({"order": {"id": "o1"}, "return": {"reason": "too small"}})
    assert request.body == '{"reason": "too small", "order": "o1"}'
    # An order flow's texts do not see a return.
    assert errors(text.replace("serves: return\n", "").replace("form: return_request", "form: order")) == [
        (
            "$.steps[0].body",
            "unknown name 'return'; this template sees order, audit, results, events",
        )
    ]


def test_a_request_that_cannot_be_rendered_fails_the_step_in_test_cases_as_in_production():
    text = FLOW.replace('X-Channel: "{{ order.channel }}"', 'X-Customer: "{{ order.customer.name }}"')
    walk = walk_flow(flow(text), example_order({"customer": {"name": "Zoë Ébert"}}))
    assert walk.path == ("score",)
    assert walk.problem == (
        "step 'score': header 'X-Customer' rendered letters HTTP headers cannot carry; use | urlencode"
    )
    assert walk.status == "failed"
    loop = FLOW.replace("body: '", "body: '{% for i in range(20000) %}x{% endfor %}")
    assert walk_flow(flow(loop), example_order({})).problem == (
        "step 'score': body could not be rendered: template 'body' was stopped by the sandbox: "
        "more than 10000 loop iterations"
    )
