"""/openapi.json says what the server enforces, for the configuration it runs with; /docs runs it.

The document is checked with openapi-spec-validator, with API keys on and off; its rules are
checked against the server's own checks (a value the document allows is accepted, one it refuses
is refused); its examples are checked against its own schemas.
"""
from __future__ import annotations

import re
from datetime import date

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate

from shared.contract.errors import InvalidRequest
from shared.contract.schema import DATE_PATTERN, ForecastRequest, ResultDocument, TaskStatus
from shared.contract.webhooks import callback_url_pattern, check_callback_url
from web import openapi_examples as examples
from web.requests import IDEMPOTENCY_KEY_PATTERN
from web.schemas import JobList

KEY = "openapi-test-key-7f3a"
HOSTS = ("127.0.0.1", "hooks.example.com", "*.shop.example")


@pytest.fixture(params=["keys", "no-keys"])
def spec_client(request, make_web_app):
    keys = (KEY,) if request.param == "keys" else ()
    client = make_web_app(api_keys=keys, callback_allowed_hosts=HOSTS).test_client()
    client.keys = keys
    return client


def _spec(client) -> dict:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def _operations(spec: dict):
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in ("get", "post", "delete"):
                yield path, method, op


def test_the_document_is_valid_openapi(spec_client):
    validate(_spec(spec_client))  # raises on any violation of the OpenAPI 3.1 schema


def test_security_follows_the_configuration(spec_client):
    spec = _spec(spec_client)
    for path, method, op in _operations(spec):
        needs_key = bool(spec_client.keys) and path.startswith("/api/")
        assert bool(op.get("security")) == needs_key, (method, path)
        assert ("401" in op["responses"]) == needs_key, (method, path)
    assert ("securitySchemes" in spec["components"]) == bool(spec_client.keys)


def test_every_operation_has_a_tag_and_a_description(spec_client):
    spec = _spec(spec_client)
    tags = {t["name"] for t in spec["tags"]}
    for path, method, op in _operations(spec):
        assert op["summary"] and op["description"], (method, path)
        assert op["tags"] and set(op["tags"]) <= tags, (method, path)


def test_each_app_has_its_own_document(make_web_app):
    secured = _spec(make_web_app(api_keys=(KEY,)).test_client())
    open_ = _spec(make_web_app(api_keys=()).test_client())
    post = "/api/v1/forecasts"
    assert secured["paths"][post]["post"].get("security")
    assert not open_["paths"][post]["post"].get("security")


# ---- the rules in the document are the server's ---------------------------------------------


def _parameter(spec: dict, path: str, method: str, name: str) -> dict:
    item = spec["paths"][path]
    for param in item.get("parameters", []) + item[method].get("parameters", []):
        if param["name"] == name:
            return param
    raise AssertionError(f"{method} {path} has no parameter {name}")


def test_idempotency_key_rule_is_the_servers(web_client):
    spec = _spec(web_client)
    schema = _parameter(spec, "/api/v1/forecasts", "post", "Idempotency-Key")["schema"]
    assert schema["pattern"] == IDEMPOTENCY_KEY_PATTERN
    validator = jsonschema.Draft202012Validator(schema)
    for key, valid in [("a", True), ("~" * 255, True), ("x" * 256, False), ("has space", False), ("é", False)]:
        assert validator.is_valid(key) == valid, key
        if key.isascii():  # a header value must be Latin-1 for the test client
            response = web_client.post("/api/v1/forecasts", json={"horizon": 2}, headers={"Idempotency-Key": key})
            assert (response.status_code == 202) == valid, (key, response.get_json())


@pytest.mark.parametrize("end_date,valid", [("0222-09-29", False), ("1969-12-31", False), ("2201-01-01", False),
                                            ("1970-01-01", True), ("2025-02-28", True)])
def test_legacy_dates_the_document_allows_are_the_ones_the_server_accepts(web_client, end_date, valid):
    spec = _spec(web_client)
    schema = _parameter(spec, "/api/sales-forecast", "get", "end_date")["schema"]
    assert jsonschema.Draft202012Validator(schema).is_valid(end_date) == valid
    body = {"start_date": "1970-01-01", "end_date": end_date}
    accepted = True
    try:
        ForecastRequest.parse(body)
    except InvalidRequest:
        accepted = False
    assert accepted == valid


@settings(max_examples=60, deadline=None)
@given(st.from_regex(DATE_PATTERN, fullmatch=True))
def test_every_date_the_pattern_allows_is_accepted_when_it_exists(text):
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return  # the pattern leaves 31 February to `format: date`
    assert ForecastRequest.parse({"start_date": text, "end_date": "2200-12-31"}).start_date == day


@settings(max_examples=100, deadline=None)
@given(st.from_regex(callback_url_pattern(HOSTS), fullmatch=True).filter(lambda u: len(u) <= 2048))
def test_every_callback_url_the_pattern_allows_is_accepted(url):
    assert check_callback_url(url, HOSTS) == url
    assert ForecastRequest.parse({"callback_url": url}, callback_hosts=HOSTS).callback_url == url


@pytest.mark.parametrize("url", ["http://evil.example/", "http://127.0.0.1.evil/", "ftp://127.0.0.1/",
                                 "http://shop.example/", "http://127.0.0.1/a\x07b"])
def test_callback_urls_the_server_refuses_are_outside_the_pattern(url):
    assert not re.search(callback_url_pattern(HOSTS), url)


def test_without_callback_hosts_the_document_allows_no_callback(make_web_app):
    spec = _spec(make_web_app(callback_allowed_hosts=(), laravel_api_url=None).test_client())
    assert spec["components"]["schemas"]["ForecastRequest"]["properties"]["callback_url"]["anyOf"] == [{"type": "null"}]


def test_list_limit_and_task_id_bounds(web_client):
    spec = _spec(web_client)
    limit = _parameter(spec, "/api/v1/forecasts", "get", "limit")["schema"]
    assert (limit["minimum"], limit["maximum"]) == (1, 100)
    task_id = _parameter(spec, "/api/v1/forecasts/{task_id}", "get", "task_id")["schema"]
    assert task_id["maxLength"] == 255
    assert web_client.get("/api/v1/forecasts?limit=100").status_code == 200
    assert web_client.get("/api/v1/forecasts?limit=101").status_code == 422


# ---- examples and answers match the schemas ------------------------------------------------


def _validator(spec: dict, name: str) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(
        {"$ref": f"#/components/schemas/{name}", "components": spec["components"]},
        format_checker=jsonschema.FormatChecker(),
    )


def test_examples_match_their_schemas_and_models(web_client):
    spec = _spec(web_client)
    post = spec["paths"]["/api/v1/forecasts"]["post"]
    for example in post["requestBody"]["content"]["application/json"]["examples"].values():
        _validator(spec, "ForecastRequest").validate(example["value"])
        ForecastRequest.parse(example["value"])
    checked = 0
    for path, method, op in _operations(spec):
        for response in op["responses"].values():
            media = response.get("content", {}).get("application/json", {})
            if "example" in media:
                _validator(spec, media["schema"]["$ref"].rsplit("/", 1)[-1]).validate(media["example"])
                checked += 1
    assert checked >= 5
    ResultDocument.model_validate(examples.RESULT)
    TaskStatus.model_validate(examples.STATUS_SUCCESS)
    JobList.model_validate(examples.JOB_LIST)


def test_answers_match_the_schemas(web_client, web_celery):
    spec = _spec(web_client)
    task_id = web_client.post("/api/v1/forecasts", json={"horizon": 2}).get_json()["task_id"]
    web_celery.backend.store_result(task_id, examples.RESULT, "SUCCESS")
    _validator(spec, "JobList").validate(web_client.get("/api/v1/forecasts").get_json())
    _validator(spec, "TaskStatus").validate(web_client.get(f"/api/v1/forecasts/{task_id}").get_json())
    _validator(spec, "Health").validate(web_client.get("/healthz").get_json())
    _validator(spec, "Readiness").validate(web_client.get("/readyz").get_json())


# ---- /docs ----------------------------------------------------------------------------------


def test_docs_is_swagger_ui_served_from_here(make_web_app):
    client = make_web_app(api_keys=(KEY,)).test_client()
    response = client.get("/docs")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert KEY not in html
    assert 'src="/static/vendor/swagger-ui-bundle.js"' in html and 'src="/static/docs.js"' in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # no inline script: the CSP forbids it
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert 'data-auth-required="true"' in html
    for asset in ("vendor/swagger-ui-bundle.js", "vendor/swagger-ui.css", "docs.js", "docs.css"):
        assert client.get(f"/static/{asset}").status_code == 200, asset


def test_series_of_an_unfinished_job_are_a_declared_409_with_retry_after(spec_client):
    spec = _spec(spec_client)
    for path in ("/api/v1/forecasts/{task_id}/series", "/api/v1/forecasts/{task_id}/series.csv"):
        answer = spec["paths"][path]["get"]["responses"]["409"]
        assert "not_finished" in answer["description"]
        assert "Retry-After" in answer["headers"]
    assert "not_finished" in spec["components"]["schemas"]["ErrorBody"]["properties"]["code"]["enum"]
