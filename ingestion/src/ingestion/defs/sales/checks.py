"""The blocking quality checks of ``sales_data``, one result per day, evaluated before publishing.

Write-audit-publish: ``sales_data`` evaluates these on the day it has just assembled (staged on
local disk) and writes the day to the lake only when all of them pass. A day that fails one is
never published, so nothing downstream can be built from it, however it is triggered
(automation, schedule, backfill, a manual launch): the lake keeps the last version that passed,
if any. Store files are validated on the way in, but the web shop's table has no such
constraints, so these checks are the gate for its rows (and a guard against a merging bug).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import dagster as dg
import polars as pl

from ingestion.defs.sales.partitions import daily_partitions
from lakehouse.landing import MAX_QUANTITY, MAX_UNIT_PRICE

KEY_COLUMNS = ("order_id", "order_ts", "order_date", "store_id", "region", "product_id")
LINE_KEY = ("store_id", "order_id", "product_id")
SAMPLE_SIZE = 10


def _spec(name: str, description: str) -> dg.AssetCheckSpec:
    return dg.AssetCheckSpec(
        name=name,
        asset="sales_data",
        description=description,
        blocking=True,
        partitions_def=daily_partitions,
    )


SALES_DATA_CHECKS = [
    _spec(
        "check_order_line_unique",
        "Each order line (store_id, order_id, product_id) appears once in the day. A failure "
        "means the web shop's table or the merge of sources repeated a line: downstream revenue "
        "would double count.",
    ),
    _spec(
        "check_keys_not_null",
        f"No empty key column ({', '.join(KEY_COLUMNS)}). A failure usually means the web "
        "shop wrote incomplete rows.",
    ),
    _spec(
        "check_quantity_in_range",
        f"1 <= quantity <= {MAX_QUANTITY:,} on every row. A failure usually means a refund or "
        "a test order in the web shop's table.",
    ),
    _spec(
        "check_unit_price_in_range",
        f"0 <= unit_price <= {MAX_UNIT_PRICE:,} on every row (and present). A failure usually "
        "means a pricing error in the web shop.",
    ),
]


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    failing: int
    total: int
    what: str
    sample: list[str]

    @property
    def passed(self) -> bool:
        return self.failing == 0

    def result(self) -> dg.AssetCheckResult:
        return dg.AssetCheckResult(
            check_name=self.name,
            passed=self.passed,
            severity=dg.AssetCheckSeverity.ERROR,
            description=None if self.passed else str(self),
            metadata={
                "failing_rows": self.failing,
                "rows_checked": self.total,
                "sample_order_ids": dg.MetadataValue.json(self.sample),
            },
        )

    def __str__(self) -> str:
        sample = f" (order ids: {', '.join(self.sample)})" if self.sample else ""
        return f"{self.name}: {self.failing:,} of {self.total:,} rows {self.what}{sample}"


def _repeated_lines(frame: pl.LazyFrame) -> pl.DataFrame:
    """Rows whose order line repeats: hashed to find candidates, then compared exactly."""
    line_hash = (
        pl.col("store_id").hash(1) ^ pl.col("order_id").hash(2) ^ pl.col("product_id").hash(3)
    ).alias("_line")
    candidates = (
        frame.select(line_hash).group_by("_line").len().filter(pl.col("len") > 1).select("_line")
    ).collect(engine="streaming")
    if candidates.height == 0:
        return pl.DataFrame(schema={"order_id": pl.String()})
    return (
        frame.with_columns(line_hash)
        .filter(pl.col("_line").is_in(candidates["_line"].implode()))
        .select(*LINE_KEY)
        .collect(engine="streaming")
        .filter(pl.struct(*LINE_KEY).is_duplicated())
    )


def evaluate_sales_data(frame: pl.LazyFrame) -> list[CheckOutcome]:
    """The four checks over one day's rows (pure, streaming: unit tests call it directly)."""
    rules: Sequence[tuple[str, pl.Expr, str]] = [
        (
            "check_keys_not_null",
            pl.any_horizontal(pl.col(c).is_null() for c in KEY_COLUMNS),
            "have an empty key column",
        ),
        (
            "check_quantity_in_range",
            pl.col("quantity").is_null() | ~pl.col("quantity").is_between(1, MAX_QUANTITY),
            f"have a quantity outside 1 … {MAX_QUANTITY:,}",
        ),
        (
            "check_unit_price_in_range",
            pl.col("unit_price").is_null()
            | (pl.col("unit_price") < 0)
            | (pl.col("unit_price") > MAX_UNIT_PRICE),
            f"have a unit_price outside 0 … {MAX_UNIT_PRICE:,}",
        ),
    ]
    totals, *samples = pl.collect_all(
        [
            frame.select(
                pl.len().alias("total"),
                *(bad.sum().alias(name) for name, bad, _ in rules),
            ),
            *(frame.filter(bad).select("order_id").head(SAMPLE_SIZE) for _, bad, _ in rules),
        ],
        engine="streaming",
    )
    total = int(totals["total"][0])
    repeated = _repeated_lines(frame)
    outcomes = [
        CheckOutcome(
            "check_order_line_unique",
            repeated.height,
            total,
            "repeat an order line (store_id, order_id, product_id)",
            [str(v) for v in repeated["order_id"].unique(maintain_order=True).head(SAMPLE_SIZE)],
        )
    ]
    for (name, _, what), sample in zip(rules, samples, strict=True):
        outcomes.append(
            CheckOutcome(
                name,
                int(totals[name][0]),
                total,
                what,
                [str(v) for v in sample["order_id"].to_list() if v is not None],
            )
        )
    return outcomes
