"""Failed sign-ins, counted so that a guesser is slowed down and a class is never locked out.

Only *failures* count, and three counts over the last ``portal_signin_window_minutes`` decide:

1. **per account and address** (``portal_signin_failures_per_account_and_address``, 10): the lock a guesser
   meets.  Ten wrong passwords for ``instructor`` from one address stop *that address* trying *that account*.
   The instructor signing in from anywhere else, and every other account from that same address, are not
   affected: a student guessing the instructor's password locks out only themselves.
2. **per address** (``portal_signin_failures_per_address``, 100): one machine trying many accounts, a few
   guesses each, is stopped.  A lab or an HTTPS proxy puts a whole class behind one address; successful
   sign-ins never count, so only a hundred typos in the window would lock it (a class makes a few).
3. **per account, all addresses together** (``portal_signin_failures_per_account``, 50): a guess spread
   over many addresses (five or more at the defaults, since each address stops at the first limit).
   This cap does not apply at an address the account has already signed in from (the instructor's office,
   a student's own laptop): however many addresses a student has, the account still opens where it is used.

No lock is forever: while locked, no password is checked and nothing is counted, so a lock ends at the
latest one window after the failures that caused it, and the message says when (in Japanese, the
server's time zone).  A successful sign-in forgets that account's failures from that address.

The address is the connection's, or with ``portal_trusted_proxies`` the client's as the proxy reports it
(``X-Forwarded-For``, see ``create_app``); behind a proxy that is not configured, every student has the
proxy's address and the counts per address become counts per class, which is why the README's HTTPS
setup sets it.  The clock is the application's (``now`` of ``create_app``), so tests can move it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from autograder.course.config import CourseConfig
from autograder.portal.store import Store


class LockReason(StrEnum):
    """Which count locked a sign-in."""

    ACCOUNT_AND_ADDRESS = "account_and_address"
    """Too many failures for this account from this address."""

    ADDRESS = "address"
    """Too many failures from this address, all accounts together."""

    ACCOUNT = "account"
    """Too many failures for this account from all addresses, and this address has never signed in to it."""


LOCK_MESSAGES = {
    LockReason.ACCOUNT_AND_ADDRESS: "この学籍番号へのサインインに続けて失敗したため、しばらくサインインできません。"
                                    "{until} 以降に、パスワードを確かめてもう一度お試しください。"
                                    "パスワードが分からないときは先生に相談してください。",
    LockReason.ADDRESS: "このネットワークからのサインインの失敗が多すぎるため、しばらくサインインできません。"
                        "{until} 以降にもう一度お試しください。",
    LockReason.ACCOUNT: "この学籍番号へのサインインの失敗が多すぎるため、この場所からはしばらくサインインできません。"
                        "{until} 以降にもう一度お試しください。いつも使っている端末からはサインインできます。",
}
"""What a locked user reads; ``{until}`` is the time to try again."""


@dataclass(frozen=True)
class SignInLock:
    """A sign-in refused without checking the password."""

    reason: LockReason
    """Which count reached its limit."""

    until: datetime
    """When the count falls below its limit again (UTC): the time to try again."""

    def message(self, until_text: str) -> str:
        """The Japanese message, with ``until_text`` (``until`` as the user's clock reads it)."""
        return LOCK_MESSAGES[self.reason].format(until=until_text)


class SignInThrottle:
    """The three counts of the module docstring, over ``store``'s failed sign-ins."""

    def __init__(self, store: Store, config: CourseConfig, clock: Callable[[], datetime]):
        self.store, self.clock = store, clock
        self.window = timedelta(minutes=config.portal_signin_window_minutes)
        self.per_account_and_address = config.portal_signin_failures_per_account_and_address
        self.per_address = config.portal_signin_failures_per_address
        self.per_account = config.portal_signin_failures_per_account

    def lock(self, account: str, address: str) -> SignInLock | None:
        """The lock on signing in to ``account`` from ``address`` now, or None if the password may be checked."""
        since = self.clock() - self.window
        counts = [(LockReason.ACCOUNT_AND_ADDRESS, self.per_account_and_address,
                   lambda: self.store.signin_failures(since, account=account, address=address)),
                  (LockReason.ADDRESS, self.per_address, lambda: self.store.signin_failures(since, address=address))]
        if not self.store.known_address(account, address):
            counts.append((LockReason.ACCOUNT, self.per_account, lambda: self.store.signin_failures(since, account=account)))
        for reason, limit, failures in counts:
            times = failures()
            if len(times) >= limit:
                # the count falls below the limit when all but limit - 1 of these failures are out of the window
                return SignInLock(reason, times[len(times) - limit] + self.window)
        return None

    def failed(self, account: str, address: str) -> None:
        """Count a wrong password (or unknown account) for ``account`` from ``address``."""
        now = self.clock()
        self.store.add_signin_failure(account, address, now, forget_before=now - self.window)

    def succeeded(self, user_id: str, address: str) -> None:
        """A sign-in worked: its address becomes known to the account and its failures there are forgotten."""
        self.store.forget_signin_failures(user_id, address)
        self.store.add_known_address(user_id, address, self.clock())
