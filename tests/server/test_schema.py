"""Property-based fuzzing of the API from its own OpenAPI schema (schemathesis).

Every generated request (valid and invalid) must get a non-5xx answer that conforms to
the schema.  The SSE routes are left out: their bodies never end.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.python import asgi

from flowyml.server import create_app

from .conftest import make_app, quick

# The schema does not depend on the stores: build it once, without opening anything.
schema = schemathesis.openapi.from_dict(
    create_app(store="memory://", artifacts="memory://", pipelines=[quick()]).openapi()
).exclude(path_regex=r"/events$")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """A server on a store that holds one finished run."""
    tmp: Path = tmp_path_factory.mktemp("schema")
    urls = (f"sqlite:///{tmp / 'meta.db'}", f"file://{tmp / 'artifacts'}")
    quick().run(store=urls[0], artifacts=urls[1])
    app = make_app(urls, [quick()])
    yield app
    # schemathesis runs the app's lifespan in its own thread; stop it with the module.
    asgi.shutdown_lifespans()


@schema.parametrize()
@settings(
    max_examples=15,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_conforms_to_its_schema(case: Any, app: FastAPI) -> None:
    case.call_and_validate(app=app, base_url="http://testserver")
