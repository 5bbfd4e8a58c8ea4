"""The native stack as a user runs it (deploy/local/stack.py), started by the tests.

Driven only from outside: S3 puts or files in the landing folder, SQL on the source database,
and the webserver's GraphQL API.
"""

from collections.abc import Iterator

import pytest
from native_stack import Stack, production_stack

from lakehouse_testing.servers import PostgresServer, S3Server, WebhookReceiver


@pytest.fixture(scope="session")
def stack(
    postgres: PostgresServer,
    s3_server: S3Server,
    webhook: WebhookReceiver,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    work = tmp_path_factory.mktemp("stack")
    with production_stack(
        "system", postgres, s3_server, work, LAKEHOUSE_ALERT_WEBHOOK_URL=webhook.url
    ) as started:
        yield started
