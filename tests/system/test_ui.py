"""What an operator sees in the Dagster UI, read from the page in Debian's Chromium.

Against the native stack (Postgres storage, S3). Every request that leaves loopback is aborted.
Screenshots of each view go to artifacts/ui/ (git-ignored); the best are copied to docs/.
"""

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from browser import chromium
from native_stack import Stack, wait_until

from lakehouse.seed import SeedConfig, seed_database, store_csv

pytestmark = pytest.mark.system

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "ui"
TODAY = datetime.now(UTC).date()
DAY_SHOWN = (TODAY - timedelta(days=7)).isoformat()  # lands during these tests
DAY_EMPTY = (TODAY - timedelta(days=30)).isoformat()  # never lands
BACKFILL_DAYS = [(TODAY - timedelta(days=n)).isoformat() for n in (12, 11, 10)]

MATERIALIZED = """query M($partitions: [String!]) {
  assetOrError(assetKey: {path: ["sales_summary"]}) {
    ... on Asset { assetMaterializations(partitions: $partitions) { partition runId } } } }"""


def _land(stack: Stack, day: str) -> None:
    as_date = date.fromisoformat(day)
    stack.put(
        f"landing/sales/{day}/store_001.csv",
        store_csv(SeedConfig(start=as_date, end=as_date), as_date, "store_001"),
    )


def _summaries(stack: Stack, days: list[str]) -> list[dict]:
    data = stack.gql(MATERIALIZED, partitions=days)
    return data["assetOrError"]["assetMaterializations"]


@pytest.fixture(scope="module")
def landed(stack: Stack) -> Stack:
    """Days for the views below, landed as stores would and carried through by automation."""
    days = [DAY_SHOWN, *BACKFILL_DAYS]
    first, last = date.fromisoformat(min(days)), date.fromisoformat(max(days))
    with psycopg.connect(stack.source_admin_url, autocommit=True) as conn:
        seed_database(conn, SeedConfig(start=first, end=last, online_orders=5))
    for day in days:
        _land(stack, day)
    wait_until(
        "sales_summary for the landed days",
        lambda: {m["partition"] for m in _summaries(stack, days)} >= set(days),
        deadline=300,
        every=2,
    )
    return stack


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with chromium() as instance:
        yield instance


@pytest.fixture
def page(browser: object, landed: Stack, request: pytest.FixtureRequest) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1600, "height": 1000})  # type: ignore[attr-defined]
    blocked: list[str] = []

    def only_loopback(route: object) -> None:
        url = route.request.url  # type: ignore[attr-defined]
        if url.startswith(("http://127.0.0.1", "http://localhost", "data:", "blob:")):
            route.continue_()  # type: ignore[attr-defined]
        else:
            blocked.append(url)
            route.abort()  # type: ignore[attr-defined]

    context.route("**/*", only_loopback)
    page = context.new_page()
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
    context.close()


def _open(page: object, stack: Stack, path: str, ready_text: str) -> None:
    page.goto(stack.url + path)  # type: ignore[attr-defined]
    page.get_by_text(ready_text).first.wait_for(timeout=60_000)  # type: ignore[attr-defined]


def _visible_text(page: object, text: str) -> object:
    # The UI renders a hidden copy of long labels to measure them; click the visible one.
    return page.locator(f"text={text} >> visible=true").first  # type: ignore[attr-defined]


def test_the_lineage_shows_both_locations_and_the_edge_across_them(
    page: object, landed: Stack
) -> None:
    _open(page, landed, "/assets/sales_summary?view=lineage", "sales_monthly_rollup")
    nodes = page.locator("svg foreignObject")  # type: ignore[attr-defined]

    def graph() -> str:
        return " ".join(t or "" for t in nodes.all_text_contents())

    wait_until("the lineage graph", lambda: "sales_data" in graph())
    text = graph()
    for name in ("sales_data", "sales_summary", "sales_monthly_rollup", "ingestion", "analytics"):
        assert name in text
    # Upstream only: sales_data stays (the edge into sales_summary), the downstream rollup goes.
    page.get_by_role("button", name="Upstream").click()  # type: ignore[attr-defined]
    wait_until("the upstream-only graph", lambda: "sales_monthly_rollup" not in graph())
    assert "sales_data" in graph() and "sales_summary" in graph()


def test_the_partitions_view_shows_the_landed_day_materialized_and_others_missing(
    page: object, landed: Stack
) -> None:
    _open(page, landed, "/assets/sales_summary?view=partitions", "Materialized (")
    page.get_by_placeholder("Filter by name").fill(DAY_SHOWN)  # type: ignore[attr-defined]
    _visible_text(page, DAY_SHOWN).click()
    detail = page.get_by_text("Latest materialization").first  # type: ignore[attr-defined]
    detail.wait_for()
    body = page.inner_text("body")  # type: ignore[attr-defined]
    assert "Materialized (" in body and "Missing (" in body
    run_links = page.locator("a[href^='/runs/']")  # type: ignore[attr-defined]
    wait_until(f"a run link for {DAY_SHOWN}", lambda: run_links.count() > 0)

    page.get_by_placeholder("Filter by name").fill(DAY_EMPTY)  # type: ignore[attr-defined]
    _visible_text(page, DAY_EMPTY).click()
    never = page.get_by_text("View all historical events (0)")  # type: ignore[attr-defined]
    wait_until(
        f"{DAY_EMPTY} shown as never materialized",
        lambda: never.count() > 0 and run_links.count() == 0,
    )


def test_the_checks_of_sales_data_show_their_latest_results(page: object, landed: Stack) -> None:
    _open(page, landed, "/assets/sales_data?view=checks", "check_order_line_unique")
    body = page.inner_text("body")  # type: ignore[attr-defined]
    for name in (
        "check_order_line_unique",
        "check_keys_not_null",
        "check_quantity_in_range",
        "check_unit_price_in_range",
    ):
        assert name in body
    assert "Succeeded" in body or "Failed" in body
    assert "This is a blocking asset check." in body


def test_the_landing_sensor_is_running_and_has_requested_runs(page: object, landed: Stack) -> None:
    _open(page, landed, "/locations/ingestion/sensors/sales_landing_sensor", "Latest tick")
    body = page.inner_text("body")  # type: ignore[attr-defined]
    assert "Running" in body
    assert "daily_ingest_job" in body
    # Only ticks that started runs: the recent ones requested none.
    page.get_by_text("All ticks").first.click()  # type: ignore[attr-defined]
    _visible_text(page, "Requested").click()
    ticks = page.get_by_text(re.compile(r"^[1-9]\d* runs? requested$"))  # type: ignore[attr-defined]
    wait_until("a tick that requested a run", lambda: ticks.count() > 0, deadline=60)


def test_a_finished_runs_stderr_holds_the_assets_log_line(page: object, landed: Stack) -> None:
    runs = landed.gql(
        """query R($f: RunsFilter) { runsOrError(filter: $f) { ... on Runs { results {
           runId status } } } }""",
        f={
            "pipelineName": "daily_ingest_job",
            "tags": [{"key": "dagster/partition", "value": DAY_SHOWN}],
        },
    )["runsOrError"]["results"]
    run_id = next(r["runId"] for r in runs if r["status"] == "SUCCESS")
    _open(page, landed, f"/runs/{run_id}", "stderr")
    page.get_by_role("button", name="stderr").click()  # type: ignore[attr-defined]
    # With the in-process executor one capture holds every step of the run: pick it.
    page.get_by_placeholder("Select a step").click()  # type: ignore[attr-defined]
    page.keyboard.press("ArrowDown")  # type: ignore[attr-defined]
    page.keyboard.press("Enter")  # type: ignore[attr-defined]
    expected = f"sales_data {DAY_SHOWN}: "
    wait_until(
        "the asset's log line in stderr", lambda: expected in page.inner_text("body"), deadline=60
    )  # type: ignore[attr-defined]


def test_a_three_day_backfill_from_the_ui_is_one_run(page: object, landed: Stack) -> None:
    _open(page, landed, "/assets/sales_summary?view=partitions", "Materialized (")
    page.get_by_role("button", name="Materialize…").first.click()  # type: ignore[attr-defined]
    dialog = page.get_by_role("dialog")  # type: ignore[attr-defined]
    dialog.get_by_text("Custom", exact=True).click()
    selection = dialog.locator("input").first
    selection.fill(f"[{BACKFILL_DAYS[0]}...{BACKFILL_DAYS[-1]}]")
    selection.press("Enter")
    wait_until("three partitions selected", lambda: "3 partitions" in dialog.inner_text())
    assert "Backfills all partitions in a single run." in dialog.inner_text()
    dialog.get_by_role("button", name="Launch backfill").click()
    dialog.wait_for(state="hidden", timeout=60_000)  # the launch went through

    backfills = """{ partitionBackfillsOrError(limit: 5) { ... on PartitionBackfills { results {
        id status numPartitions runs(limit: 10) { runId status } } } } }"""

    def ours() -> list[dict]:
        results = landed.gql(backfills)["partitionBackfillsOrError"]["results"]
        return [b for b in results if b["numPartitions"] == 3]

    wait_until("the backfill to be created", ours, deadline=60)

    def finished() -> dict | None:
        done = [b for b in ours() if b["status"] != "REQUESTED"]
        return done[0] if done else None

    backfill = wait_until("the backfill to finish", finished, deadline=240, every=2)
    assert backfill["status"] == "COMPLETED_SUCCESS"
    assert [r["status"] for r in backfill["runs"]] == ["SUCCESS"]  # one run for three days
    run_id = backfill["runs"][0]["runId"]
    by_run = {m["partition"] for m in _summaries(landed, BACKFILL_DAYS) if m["runId"] == run_id}
    assert by_run == set(BACKFILL_DAYS)
    # And as the page shows it: each of the three days' latest materialization is that run.
    page.goto(landed.url + "/assets/sales_summary?view=partitions")  # type: ignore[attr-defined]
    for day in BACKFILL_DAYS:
        page.get_by_placeholder("Filter by name").fill(day)  # type: ignore[attr-defined]
        _visible_text(page, day).click()
        link = page.locator(f"a[href^='/runs/{run_id}']")  # type: ignore[attr-defined]
        wait_until(f"{day} materialized by the backfill's run", lambda link=link: link.count() > 0)
