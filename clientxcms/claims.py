"""Work done item by item, claimed one row at a time (DESIGN.md, "Background work").

The sweeps, bulk operations and, later, renewal invoices, reminders and delivery retries
all have the same shape: find the due rows with an index, then handle each in a
transaction of its own after claiming it with ``select_for_update(skip_locked=True)``
and the same condition again. So two workers never handle the same row, a row that
changed in between is left alone, one failure never undoes the others, and a second
run finds nothing to do. This module is that loop, written once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from django.db import models, transaction

logger = logging.getLogger(__name__)
BATCH_SIZE = 500
M = TypeVar("M", bound=models.Model)


#: What a handler returns when, once the row is claimed, there is nothing left to do.
SKIPPED = "skipped"


@dataclass
class ClaimResult:
    """What one pass did: rows handled; rows skipped (held by another worker, no longer
    due once read again, or found already handled by the handler); rows that failed, with
    their message."""

    done: int = 0
    skipped: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {"done": self.done, "skipped": self.skipped, "failed": len(self.failed)}

    def add(self, other: ClaimResult) -> None:
        """Count in what another pass did (a batch's, or the one-by-one pass after it)."""
        self.done += other.done
        self.skipped += other.skipped
        self.failed += other.failed

    def record(self, outcome: object) -> None:
        """Count a handler's ``outcome``: ``SKIPPED`` or anything else, done."""
        if outcome == SKIPPED:
            self.skipped += 1
        else:
            self.done += 1


@dataclass(frozen=True)
class Claimer(Generic[M]):
    """Claims the rows of ``due`` one by one; ``expected`` errors are counted, not raised.

    ``due`` is re-evaluated for each row when it is claimed, so it must state the whole
    condition that makes a row due (status, dates): a row that no longer matches is left.
    """

    due: models.QuerySet[M]
    expected: tuple[type[Exception], ...] = ()
    batch_size: int = BATCH_SIZE

    def batches(self) -> Iterator[list[int]]:
        """The due rows' keys in key order, a batch at a time, read once without a lock.

        Read in one query with no ORDER BY and no LIMIT: with them, PostgreSQL walks the
        primary key in search of the first due rows and reads the whole table when few
        or none are due (it takes status and dates for independent); without, it asks
        the index of the due condition (bench/sweeps.py measures both). A row that
        becomes due during the run waits for the next one.
        """
        keys = sorted(self.due.order_by().values_list("pk", flat=True))
        for start in range(0, len(keys), self.batch_size):
            yield keys[start : start + self.batch_size]

    def claim(self, pk: int, handle: Callable[[M], object], result: ClaimResult) -> None:
        """Handle row ``pk`` in its own transaction if it is still due and nobody holds it.

        An expected error is recorded in ``result`` and the transaction still commits, so
        what the handler recorded of the failure (a service's error, say) is kept.
        """
        with transaction.atomic():
            row = self.due.select_for_update(skip_locked=True).filter(pk=pk).first()
            if row is None:
                result.skipped += 1  # another worker holds it, or it is no longer due
                return
            try:
                outcome = handle(row)
            except self.expected as exc:
                message = getattr(exc, "message", None) or str(exc)
                logger.warning("%s %s could not be handled: %s", row._meta.label, pk, message)
                result.failed.append((pk, message))
            else:
                result.record(outcome)

    def run(self, handle: Callable[[M], object]) -> ClaimResult:
        """Claim and handle every due row; what was done and what failed."""
        result = ClaimResult()
        for keys in self.batches():
            for pk in keys:
                self.claim(pk, handle, result)
        return result


def hand_over_each_due(
    due: models.QuerySet[M],
    handle: Callable[[M], object],
    *,
    expected: tuple[type[Exception], ...] = (),
) -> ClaimResult:
    """Hand every row of ``due`` in turn to ``handle`` with no lock or transaction held.

    For work whose handler takes its own claim and must not run inside a transaction: the
    lifecycle claims a service before calling its panel, and calls the panel after that
    claim has committed. Each row is read again with the whole condition first, skipping
    a row another worker holds, so a row that stopped being due or is being handled is
    left; two runs at once are kept apart by the handler's own claim.
    """
    claimer = Claimer(due, expected=expected)
    result = ClaimResult()
    for keys in claimer.batches():
        for pk in keys:
            # Still due, and nobody holds it: a row another worker has locked is left
            # for that worker rather than waited for.
            with transaction.atomic():
                row = due.select_for_update(skip_locked=True).filter(pk=pk).first()
            if row is None:
                result.skipped += 1
                continue
            try:
                outcome = handle(row)
            except expected as exc:
                message = getattr(exc, "message", None) or str(exc)
                logger.warning("%s %s could not be handled: %s", row._meta.label, pk, message)
                result.failed.append((pk, message))
            else:
                result.record(outcome)
    return result


def for_each_due(
    due: models.QuerySet[M],
    handle: Callable[[M], object],
    *,
    expected: tuple[type[Exception], ...] = (),
) -> ClaimResult:
    """Claim every row of ``due`` in turn and ``handle`` it: see ``Claimer``."""
    return Claimer(due, expected=expected).run(handle)
