"""shared/contract/webhooks.py: Standard Webhooks signatures and the callback allowlist (pure, no I/O)."""
from __future__ import annotations

import pytest

from shared.contract.errors import InvalidRequest
from shared.contract.webhooks import (
    WebhookVerificationError,
    check_callback_url,
    sign,
    signature_headers,
    signing_key,
    verify,
)

# The Standard Webhooks specification's published test vector: a receiver library verifies
# what we send only if we reproduce it exactly.
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_sign_reproduces_the_specification_vector() -> None:
    assert sign(signing_key(VECTOR_SECRET), VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIGNATURE


def test_verify_accepts_the_vector_among_several_signatures() -> None:
    headers = {"Webhook-Id": VECTOR_ID, "Webhook-Timestamp": str(VECTOR_TS),
               "Webhook-Signature": f"v1,bm9wZQ== {VECTOR_SIGNATURE}"}
    verify(signing_key(VECTOR_SECRET), headers, VECTOR_BODY, now=VECTOR_TS + 10)


@pytest.mark.parametrize(
    "change",
    [
        {"body": b'{"test": 2432232315}'},
        {"now": VECTOR_TS + 301},
        {"now": VECTOR_TS - 301},
        {"key": b"another key"},
        {"id": "msg_other"},
    ],
)
def test_verify_rejects_tampering_and_replays(change: dict) -> None:
    key = change.get("key", signing_key(VECTOR_SECRET))
    headers = {"webhook-id": change.get("id", VECTOR_ID), "webhook-timestamp": str(VECTOR_TS),
               "webhook-signature": VECTOR_SIGNATURE}
    with pytest.raises(WebhookVerificationError):
        verify(key, headers, change.get("body", VECTOR_BODY), now=change.get("now", VECTOR_TS))


def test_verify_rejects_missing_headers() -> None:
    with pytest.raises(WebhookVerificationError):
        verify(b"k", {"webhook-id": "x"}, b"{}")


def test_signature_headers_round_trip_with_a_raw_key() -> None:
    key = signing_key(b"a plain secret, not whsec")
    assert key == b"a plain secret, not whsec"
    headers = signature_headers(key, "job-1", b'{"a":1}', timestamp=1_700_000_000)
    assert headers["webhook-id"] == "job-1" and headers["webhook-timestamp"] == "1700000000"
    verify(key, headers, b'{"a":1}', now=1_700_000_000)


def test_signing_key_rejects_a_bad_whsec_and_an_empty_secret() -> None:
    with pytest.raises(ValueError):
        signing_key("whsec_not*base64")
    with pytest.raises(ValueError):
        signing_key(b"")


ALLOWED = ("shop.example.com", "127.0.0.1", "*.hooks.example.org")


@pytest.mark.parametrize(
    "url",
    [
        None,
        "https://shop.example.com/forecast-done",
        "http://SHOP.example.com:8080/x?y=1",
        "http://127.0.0.1:9000/hook",
        "https://a.hooks.example.org/h",
    ],
)
def test_allowed_callbacks(url: str | None) -> None:
    assert check_callback_url(url, ALLOWED) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example.com/x",
        "https://shop.example.com.evil.net/x",
        "https://hooks.example.org/h",  # the wildcard covers subdomains only
        "http://169.254.169.254/latest/meta-data",
        "http://localhost/x",
        "ftp://shop.example.com/x",
        "https://user:pw@shop.example.com/x",
        "http://shop.example.com:notaport/x",
        "/relative/path",
        "",
    ],
)
def test_refused_callbacks(url: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        check_callback_url(url, ALLOWED)
    assert caught.value.field == "callback_url"
    assert caught.value.code == "invalid_request"


def test_no_allowed_hosts_means_no_callbacks() -> None:
    with pytest.raises(InvalidRequest, match="CALLBACK_ALLOWED_HOSTS"):
        check_callback_url("http://127.0.0.1/x", ())
