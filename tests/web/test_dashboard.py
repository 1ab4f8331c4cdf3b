"""The dashboard's pages and GET /api/v1/forecasts (the list /jobs reads), on a real Redis."""
from __future__ import annotations

import html as html_lib
import json
import re

import pytest

from shared.contract import calendar

KEY = "dash-key"


def test_pages_are_local_only_and_carry_no_key(make_web_app):
    """The pages load nothing remote, run no inline script and never carry the server's key."""
    client = make_web_app(api_keys=(KEY,)).test_client()
    for path in ("/", "/jobs"):
        response = client.get(path)
        assert response.status_code == 200 and response.mimetype == "text/html"
        html = response.get_data(as_text=True)
        assert KEY not in html  # the server never hands its key to a browser
        assert 'data-auth-required="true"' in html
        assert not re.search(r"(src|href)=\"(https?:)?//", html)  # no CDN, nothing remote
        assert "<script>" not in html  # no inline script: the CSP forbids it
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "connect-src 'self'" in csp
    assert client.get("/static/vendor/plotly-basic.min.js").status_code == 200
    assert client.get("/static/dashboard.js").status_code == 200


def test_pages_without_keys_do_not_ask_for_one(web_client):
    """Without API_KEYS, the page does not ask for a key."""
    html = web_client.get("/").get_data(as_text=True)
    assert 'data-auth-required="false"' in html


def test_list_recent_jobs_newest_first_with_states(web_client, web_celery):
    """GET /api/v1/forecasts lists jobs newest first, with their state, params and forecast headline."""
    first = web_client.post("/api/v1/forecasts", json={"horizon": 2}).get_json()["task_id"]
    second = web_client.post("/api/v1/forecasts", json={"horizon": 5}).get_json()["task_id"]
    document = {"status": "success", "data": {"forecast": {"period": "2025-04", "model": "ets",
                                                            "next_month_forecast": 10.0}}}
    web_celery.backend.store_result(first, document, "SUCCESS")

    response = web_client.get("/api/v1/forecasts?limit=10")
    assert response.status_code == 200
    jobs = response.get_json()["jobs"]
    assert [job["task_id"] for job in jobs] == [second, first]
    assert jobs[0]["status"] == "PENDING" and jobs[0]["params"]["horizon"] == 5
    assert jobs[0]["forecast"] is None
    assert jobs[1]["status"] == "SUCCESS" and jobs[1]["progress"] == {"stage": "done", "percent": 100}
    assert jobs[1]["forecast"]["next_month_forecast"] == 10.0
    assert "result" not in jobs[1]  # the full document stays at GET /{task_id}
    assert len(web_client.get("/api/v1/forecasts?limit=1").get_json()["jobs"]) == 1


@pytest.mark.parametrize("limit", ["0", "101", "-1", "ten", "1.5", ""])
def test_list_limit_out_of_range_is_422(web_client, limit):
    """A limit that is not a whole number from 1 to 100 is a 422 naming the field."""
    response = web_client.get(f"/api/v1/forecasts?limit={limit}")
    assert response.status_code == 422
    assert response.get_json()["error"]["field"] == "limit"


def test_list_needs_the_key_when_keys_are_set(make_web_app):
    """With API_KEYS set, the job list needs a key."""
    client = make_web_app(api_keys=(KEY,)).test_client()
    assert client.get("/api/v1/forecasts").status_code == 401
    assert client.get("/api/v1/forecasts", headers={"X-API-Key": KEY}).status_code == 200


def test_the_model_help_says_what_auto_does(web_client):
    """The form's help for the auto model says what it does (the median of its members)."""
    # auto is the median of its members (shared.engine.models.AutoForecaster), not a selection
    from shared.engine.models import AutoForecaster

    html = web_client.get("/").get_data(as_text=True)
    help_text = re.search(r'<p id="model-help"[^>]*>(.*?)</p>', html, re.S).group(1)
    assert "best" not in help_text and "median of five models" in help_text
    assert len(AutoForecaster.MEMBERS) == 5
    names = {"ets": "ETS", "theta": "Theta", "ces": "CES", "ces_seasonal": "CES", "seasonal_naive": "seasonal naive"}
    for label, *_ in AutoForecaster.MEMBERS:
        assert names[label] in help_text


def test_the_form_asks_for_group_by_and_measure_by_the_servers_rule(web_client):
    """The group_by field carries shared/contract/schema/names.py's own pattern and count, so the page's check
    and the server's cannot drift apart; the measure offers exactly the measures the API takes."""
    from typing import get_args

    from shared.contract.schema import GROUP_FIELD_PATTERN, MAX_GROUP_FIELDS, MeasureName

    html = web_client.get("/").get_data(as_text=True)
    field = re.search(r'<input id="group-by"[^>]*>', html).group(0)
    assert 'name="group_by"' in field and 'list="group-by-presets"' in field
    assert f'data-pattern="{GROUP_FIELD_PATTERN}"' in field
    assert f'data-max="{MAX_GROUP_FIELDS}"' in field
    assert "group-by-error" in field and "required" not in field  # optional: empty is the total alone
    presets = re.search(r'<datalist id="group-by-presets">(.*?)</datalist>', html, re.S).group(1)
    for preset in re.findall(r'<option value="([^"]*)">', presets):
        names = [name.strip() for name in preset.split(",")]
        assert 1 <= len(names) <= MAX_GROUP_FIELDS and all(re.match(GROUP_FIELD_PATTERN, n) for n in names), preset
    select = re.search(r'<select id="measure" name="measure"[^>]*>(.*?)</select>', html, re.S).group(1)
    assert re.findall(r'<option value="([^"]+)"', select) == list(get_args(MeasureName))
    assert re.search(r'<option value="revenue" selected>', select)  # the API's default
    assert '<label for="group-by">' in html and '<label for="measure">' in html


def test_the_series_panel_is_in_the_page_and_its_script_served(web_client):
    """The series panel is in the page, hidden until a grouped job, and its script is served."""
    html = web_client.get("/").get_data(as_text=True)
    assert re.search(r'<section class="panel" id="series-panel"[^>]*hidden>', html)  # until a grouped job
    assert '<script src="/static/series_table.js" defer></script>' in html
    for control in ("series-level", "series-q", "series-limit", "series-csv", "series-prev", "series-next"):
        assert f'id="{control}"' in html
    assert re.search(r'<div id="series-status" role="status" aria-live="polite"', html)
    script = web_client.get("/static/series_table.js")
    assert script.status_code == 200
    assert "innerHTML" not in script.get_data(as_text=True)  # server text goes in as text only
    jobs = web_client.get("/jobs").get_data(as_text=True)
    assert '<th scope="col">Groups</th>' in jobs


def test_a_grouped_job_is_listed_with_its_groups(web_client):
    """A grouped job is listed with its group fields and measure."""
    task_id = web_client.post(
        "/api/v1/forecasts", json={"group_by": ["category", "product_id"], "measure": "units"}
    ).get_json()["task_id"]
    single = web_client.post("/api/v1/forecasts", json={"horizon": 2}).get_json()["task_id"]
    jobs = {job["task_id"]: job for job in web_client.get("/api/v1/forecasts").get_json()["jobs"]}
    assert jobs[task_id]["params"]["group_by"] == ["category", "product_id"]
    assert jobs[task_id]["params"]["measure"] == "units"
    assert jobs[single]["params"]["group_by"] is None  # what the jobs page tells a single job by


def test_the_form_takes_the_frequencies_limits_from_the_server(web_client):
    """The horizon's bounds and defaults per frequency are the server's table, written into the page
    once (the script reads them from the select's data attribute)."""
    html = web_client.get("/").get_data(as_text=True)
    found = re.search(r'<select id="frequency"[^>]*data-limits="([^"]+)"', html)
    assert found, "the frequency select carries its limits"
    limits = json.loads(html_lib.unescape(found.group(1)))
    assert limits == {str(f): {"noun": s.noun, "default_horizon": s.default_horizon, "max_horizon": s.max_horizon,
                               "default_window": s.default_window} for f, s in calendar.SPECS.items()}
    month = calendar.SPECS[calendar.Frequency.MONTH]
    assert f'max="{month.max_horizon}"' in html and f'value="{month.default_horizon}"' in html
    for field in ('id="holidays"', 'id="events"', 'id="alerts"', 'data-alerts-api="/api/v1/alerts"', "alerts.js"):
        assert field in html, field
    assert web_client.get("/static/alerts.js").status_code == 200
