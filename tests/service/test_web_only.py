"""A stack with API keys off and no worker: jobs queue up, readiness says what is missing."""
from __future__ import annotations

import pytest
import requests

from tests.stacks import base_env, start_stack

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def web_only(tmp_path_factory):
    root = tmp_path_factory.mktemp("web-only")
    env = base_env(root, LARAVEL_API_URL="http://127.0.0.1:9")
    stack = start_stack(root, env, root=root, worker=False)
    yield stack
    stack.stop()


def test_no_api_keys_means_no_auth(web_only):
    response = requests.post(f"{web_only.web_url}/api/v1/forecasts", json={"horizon": 2}, timeout=10)
    assert response.status_code == 202
    task_id = response.json()["task_id"]
    status = requests.get(f"{web_only.web_url}/api/v1/forecasts/{task_id}", timeout=10).json()
    assert status["status"] == "PENDING"
    assert status["progress"] == {"stage": "queued", "percent": 0}


def test_readiness_names_the_missing_worker(web_only):
    response = requests.get(f"{web_only.web_url}/readyz", timeout=10)
    assert response.status_code == 503
    assert "worker" in response.json()["missing"]
    assert requests.get(f"{web_only.web_url}/healthz", timeout=10).status_code == 200
