"""Login throttling shared by every worker and instance: attempts counted per key in the database.

A key is an address, or an address and the user name typed. Each key has some free attempts; past
them every further attempt must wait twice as long as the one before (1 s, 2 s, 4 s, ... up to
MAX_WAIT). Nothing is ever locked for everyone: the wait belongs to the address (and name) that
failed, so hammering an account from one place does not shut its owner out from another.

An attempt is claimed before the password is checked (counted as a failure at once, in the same
transaction that checks the wait), so concurrent attempts cannot all slip past the check; a
good password gives the attempt back. Keys idle for FORGET_AFTER are deleted, so the table
holds only recent trouble.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from checkin.store.engine import Store
from checkin.store.models import LoginThrottle

MAX_WAIT = timedelta(minutes=15)
FORGET_AFTER = timedelta(hours=1)
# Free attempts: five per address and name; many per address, so one office behind one NAT,
# where every person shares an address, is not slowed down by a few mistyped passwords.
PAIR_FREE = 5
ADDRESS_FREE = 30


@dataclass(frozen=True)
class Budget:
    """One key's count: `free` attempts before each further one must wait."""

    key: str
    free: int


def wait_after(failures: int, free: int) -> timedelta:
    """How long the next attempt waits after `failures` counted ones: none within the free
    attempts, then 2^n seconds for the n-th beyond them (from 0), at most MAX_WAIT."""
    if failures < free:
        return timedelta(0)
    return min(timedelta(seconds=2 ** min(failures - free, 20)), MAX_WAIT)


def _key(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def login_budgets(address: str, username: str) -> tuple[Budget, Budget]:
    """The keys one login attempt counts against: its address, and its address with the name typed."""
    return Budget(_key("address", address), ADDRESS_FREE), Budget(_key("pair", address, username), PAIR_FREE)


# A guest's own page: a few declarations an hour are free (a changed answer, a second phone), then
# each further one waits as a failed login does; each signs a code, so a script cannot make many.
DECLARATIONS_FREE = 5


def declaration_budget(invitation_id: int) -> Budget:
    """The key a declaration on a guest's page counts against: their invitation."""
    return Budget(_key("declaration", str(invitation_id)), DECLARATIONS_FREE)


def claim(store: Store, budgets: Sequence[Budget], now: datetime) -> bool:
    """Count one attempt against every key, or none and False while any of them must still wait."""
    try:
        return _claim(store, budgets, now)
    except IntegrityError:  # another worker inserted the same new key first (PostgreSQL): count again
        return _claim(store, budgets, now)


def _claim(store: Store, budgets: Sequence[Budget], now: datetime) -> bool:
    table = LoginThrottle.table()
    with store.writing() as s:
        s.execute(delete(table).where(table.c.last_attempt < now - FORGET_AFTER))
        keys = [b.key for b in budgets]
        rows = {r.key: r for r in s.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys)).with_for_update())}
        if any(row.wait_until > now for row in rows.values()):
            return False
        for budget in budgets:
            row = rows.get(budget.key)
            if row is None:
                row = LoginThrottle(key=budget.key, failures=0)
                s.add(row)
            row.failures += 1
            row.last_attempt = now
            row.wait_until = now + wait_after(row.failures, budget.free)
        return True


def give_back(store: Store, budgets: Sequence[Budget], now: datetime, *, forget: Budget | None = None) -> None:
    """A good password: the attempt claimed for it no longer counts, and the `forget` key's earlier
    failures (the name's own, from this address) are forgotten."""
    with store.writing() as s:
        keys = [b.key for b in budgets]
        rows = {r.key: r for r in s.scalars(select(LoginThrottle).where(LoginThrottle.key.in_(keys)).with_for_update())}
        for budget in budgets:
            row = rows.get(budget.key)
            if row is None:
                continue
            row.failures = 0 if forget == budget else max(0, row.failures - 1)
            if row.failures == 0:
                s.delete(row)
            else:
                row.wait_until = min(row.wait_until, now + wait_after(row.failures, budget.free))


def waiting(store: Store, budget: Budget, now: datetime) -> timedelta:
    """How long this key must still wait (zero when it may try now)."""
    with store.session() as s:
        row = s.get(LoginThrottle, budget.key)
        return max(row.wait_until - now, timedelta(0)) if row is not None else timedelta(0)
