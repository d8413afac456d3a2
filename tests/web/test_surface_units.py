"""The hardened surface, piece by piece, in process: outbound destinations, signatures, sizes,
CSV cells, the metrics token, sign-in throttling and bounded caches."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from engine import definitions
from engine.lru import Lru
from oms.settings import get_settings
from services import outbound
from services.orders.channels import SignatureRefused, check_signature, signed_headers
from web.api.analytics import csv_response
from web.app import create_app
from web.limits import BodyLimit, limited_body
from web.throttle import SignInThrottle


@pytest.fixture
def settings_env(monkeypatch):
    """Set OMS_* variables for one test; the settings are read again."""

    def apply(**values: str) -> None:
        for key, value in values.items():
            monkeypatch.setenv(f"OMS_{key.upper()}", value)
        get_settings.cache_clear()

    yield apply
    get_settings.cache_clear()


@pytest.fixture
def receiver():
    """A real HTTP server on loopback that answers 204 and counts requests."""
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["content-length"]))
            hits.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()


# ---- outbound webhooks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
    ],
)
def test_internal_destinations_are_refused(settings_env, url):
    settings_env(outbound_allowlist="")
    with pytest.raises(outbound.DestinationRefused, match="is an internal address; name it in OMS_OUTBOUND_ALLOWLIST"):
        outbound.check_destination(url)


def test_the_allowlist_names_hosts_addresses_and_networks(settings_env, receiver):
    url, hits = receiver
    settings_env(outbound_allowlist="")
    with pytest.raises(outbound.DestinationRefused):
        outbound.post(url + "/a", b"{}", {})
    assert hits == []  # refused before anything was sent
    for allowed in ("127.0.0.1", "127.0.0.0/8", "localhost"):
        settings_env(outbound_allowlist=f"hooks.example, {allowed}")
        outbound.post(url.replace("127.0.0.1", "localhost") if allowed == "localhost" else url + "/b", b"{}", {})
    assert len(hits) == 3
    settings_env(outbound_allowlist="10.0.0.0/8")
    with pytest.raises(outbound.DestinationRefused):
        outbound.check_destination("http://192.168.1.1/")
    with pytest.raises(outbound.DestinationRefused, match="is not an http"):
        outbound.check_destination("file:///etc/passwd")


def test_failures_are_described_not_echoed(settings_env):
    settings_env(outbound_allowlist="127.0.0.1")
    with pytest.raises(outbound.SendFailed) as refused:
        outbound.post("http://127.0.0.1:9/secret-path?token=abc", b"{}", {}, timeout=2)
    assert str(refused.value) == "the webhook receiver could not be reached"


# ---- signatures with timestamps -------------------------------------------------------------


def test_a_signature_is_bound_to_its_timestamp(settings_env):
    settings_env(webhook_tolerance_seconds="300")
    body = b'{"a": 1}'
    headers = signed_headers("s3cret", body)
    check_signature("s3cret", body, headers["X-OMS-Signature"], headers["X-OMS-Timestamp"])
    old = signed_headers("s3cret", body, int(time.time()) - 301)
    with pytest.raises(SignatureRefused) as stale:
        check_signature("s3cret", body, old["X-OMS-Signature"], old["X-OMS-Timestamp"])
    assert stale.value.code == "timestamp_stale"
    # Moving the timestamp forward breaks the signature.
    with pytest.raises(SignatureRefused) as moved:
        check_signature("s3cret", body, old["X-OMS-Signature"], headers["X-OMS-Timestamp"])
    assert moved.value.code == "signature_mismatch"
    with pytest.raises(SignatureRefused) as missing:
        check_signature("s3cret", body, headers["X-OMS-Signature"], None)
    assert missing.value.code == "timestamp_missing"


# ---- request sizes ---------------------------------------------------------------------------


def _sized_app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(BodyLimit)

    @app.post("/any")
    async def anything(request: Request) -> dict:
        return {"size": len(await request.body())}

    @app.post("/hook")
    async def hook(request: Request) -> dict:
        return {"size": len(await limited_body(request))}

    return app


def test_bodies_are_capped_by_length_and_while_streaming(settings_env):
    settings_env(max_request_bytes="1000", webhook_max_bytes="100")
    client = TestClient(_sized_app())
    assert client.post("/any", content=b"x" * 1000).json() == {"size": 1000}
    too_big = client.post("/any", content=b"x" * 1001)
    assert (too_big.status_code, too_big.json()) == (413, {"detail": "the request body is larger than 1000 bytes"})
    streamed = client.post("/any", content=iter([b"x" * 600, b"x" * 600]))  # chunked: no Content-Length
    assert streamed.status_code == 413
    assert client.post("/hook", content=b"x" * 100).json() == {"size": 100}
    hook = client.post("/hook", content=b"x" * 101)
    assert (hook.status_code, hook.json()) == (413, {"detail": "the request body is larger than 100 bytes"})


# ---- CSV, metrics -----------------------------------------------------------------------------


def test_csv_cells_that_a_spreadsheet_would_run_are_escaped():
    rows = [{"name": "=HYPERLINK(1)", "city": "+1", "note": "@SUM(A1)", "dash": "-2", "qty": -3, "ok": "a=b"}]
    text = csv_response(rows, "t.csv").body.decode()
    assert text.splitlines()[1] == "'=HYPERLINK(1),'+1,'@SUM(A1),'-2,-3,a=b"


def test_metrics_can_require_a_token(settings_env):
    settings_env(metrics_token="")
    assert TestClient(create_app()).get("/metrics").status_code == 200
    settings_env(metrics_token="scrape-me")
    client = TestClient(create_app())
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer scrape-me"}).status_code == 200


# ---- sign-in throttle, caches -------------------------------------------------------------------


def test_failed_sign_ins_are_counted_per_account_and_per_address():
    throttle = SignInThrottle(per_account=3, per_address=5, window_seconds=60)
    for _ in range(3):
        assert throttle.retry_after("Ann", "198.51.100.1") is None
        throttle.failed("ann", "198.51.100.1")
    wait = throttle.retry_after("ANN", "198.51.100.2")  # the account, whatever the address or case
    assert wait is not None and 1 <= wait <= 60
    assert throttle.retry_after("bob", "198.51.100.3") is None
    for name in ("c1", "c2"):
        throttle.failed(name, "198.51.100.1")
    assert throttle.retry_after("dora", "198.51.100.1") is not None  # the address: 5 failures
    throttle.succeeded("ann")
    assert throttle.retry_after("ann", "198.51.100.9") is None


def test_caches_keyed_by_content_hash_are_bounded():
    cache: Lru[int, int] = Lru(3)
    for n in range(5):
        cache.put(n, n)
    assert (len(cache), cache.get(0), cache.get(4)) == (3, None, 4)
    before = definitions._PARSED.maxsize
    for n in range(before + 20):
        definitions.parse_published(f"kind: template\nname: t{n}\nuse: label\nbody: '{n}'\n")
    assert len(definitions._PARSED) <= before
