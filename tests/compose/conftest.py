"""The compose tier's one deployment, shared by its modules (test_compose.py runs first and
expects it fresh; test_front_door.py comes after it)."""

from collections.abc import Iterator

import pytest
from compose_stack import ComposeStack, compose_deployment


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeStack]:
    with compose_deployment(
        tmp_path_factory.mktemp("compose"),
        "lakehouse-test",
        env={"INGESTION_LANDING_WINDOW_DAYS": "4"},
        artifact_name="compose-test",
        metrics_name="compose-metrics",
    ) as deployment:
        yield deployment
