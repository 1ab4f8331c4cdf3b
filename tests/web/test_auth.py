"""API keys on /api/ routes; everything else stays open; CORS on /api/*."""
from __future__ import annotations

import logging

import pytest

KEYS = ("first-key", "second-key")


@pytest.fixture
def secured(make_web_app):
    return make_web_app(api_keys=KEYS).test_client()


def test_no_keys_configured_means_open_with_a_warning(make_web_app, caplog):
    with caplog.at_level(logging.WARNING, logger="web.auth"):
        client = make_web_app(api_keys=()).test_client()
    assert "API_KEYS is not set" in caplog.text
    assert client.post("/api/v1/forecasts", json={}).status_code == 202


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer first-key"},
        {"Authorization": "bearer second-key"},
        {"X-API-Key": "second-key"},
    ],
)
def test_a_configured_key_is_accepted(secured, headers):
    assert secured.post("/api/v1/forecasts", json={}, headers=headers).status_code == 202


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Bearer "},
        {"Authorization": "Basic Zmlyc3Qta2V5"},
        {"Authorization": "first-key"},
        {"X-API-Key": "first-ke"},
        {"X-API-Key": "first-key-and-more"},
        {"X-API-Key": "ünïcödé"},
    ],
)
def test_missing_or_wrong_key_is_401(secured, headers):
    for method, path in (("post", "/api/v1/forecasts"), ("get", "/api/v1/forecasts/x"),
                         ("delete", "/api/v1/forecasts/x"), ("get", "/api/sales-forecast")):
        response = getattr(secured, method)(path, headers=headers)
        assert response.status_code == 401, (method, path)
        assert response.get_json()["error"]["code"] == "unauthorized"


def test_non_api_routes_stay_open(secured):
    assert secured.get("/healthz").status_code == 200
    assert secured.get("/openapi.json").status_code == 200
    assert secured.get("/docs").status_code == 200
    assert secured.get("/metrics").status_code == 200
    assert secured.get("/").status_code == 200
    assert secured.get("/jobs").status_code == 200


def test_cors_preflight_needs_no_key_and_allows_the_headers(secured):
    response = secured.open(
        "/api/v1/forecasts",
        method="OPTIONS",
        headers={
            "Origin": "https://shop.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Idempotency-Key, Content-Type, X-API-Key",
        },
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    for header in ("authorization", "idempotency-key", "x-api-key", "content-type"):
        assert header in allowed


def test_cors_headers_on_api_responses(secured):
    response = secured.post(
        "/api/v1/forecasts", json={}, headers={"Origin": "https://shop.example", "X-API-Key": "first-key"}
    )
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Location" in response.headers["Access-Control-Expose-Headers"]
