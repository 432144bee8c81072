"""Failed sign-ins, counted so that a guesser is slowed down and a class is never locked out.

Only *failures* count, over the last ``portal_signin_window_minutes`` (15), and what counts depends on
whether the (account, address) pair is **known**: the account has signed in from that address before
(``Store.known_address``; the instructor's office, a student's laptop, the lab where a student signed in
last week).

An **unknown pair** (a first sign-in from here, or a guess) meets three counts:

1. **per account and address** (``portal_signin_failures_per_account_and_address``, 10): the lock a guesser
   meets.  Ten wrong passwords for ``instructor`` from one address stop *that address* trying *that account*
   for the window; every other account at that address is unaffected.
2. **per address** (``portal_signin_failures_per_address``, 100): one machine trying many accounts, a few
   guesses each, is stopped.  Only failures of unknown pairs count here, and the cap stops only unknown
   pairs: a student behind a lab's NAT (or the HTTPS proxy) posting a hundred made-up account names stops
   new accounts at that address, never a classmate who has signed in there before.  The cost, stated
   honestly: during such a flood a student signing in *for the first time* from that address waits until
   the lock ends (at most one window).
3. **per account, all addresses together** (``portal_signin_failures_per_account``, 50): a guess spread
   over many addresses (five or more at the defaults, since each address stops at the first limit).  Only
   failures from addresses the account has never signed in from count, and the cap stops only those: however
   many addresses a student has, the account still opens where it is used.

A **known pair** meets one count only: ``portal_signin_failures_per_account_and_address`` failures within
``KNOWN_PAIR_WINDOW`` (one minute) lock it until a minute after them.  Its failures count nowhere else.  The
password is the only thing that tells the instructor from a student guessing at the instructor's account
from the same lab, so no rule can both stop that guesser and never delay the instructor there; this is the
least bad one we found:

- a guesser at a known pair gets at most ten tries a minute (against issued passwords of 72 bits, 96 for the
  instructor, and ten Argon2 checks a minute of server time per account tried);
- the owner typing at the same address waits at most a minute after the guessing stops, not fifteen;
- a guesser who keeps guessing keeps that pair locked as long as they go on, and one who takes classmates'
  ids in turn, ten tries a minute each, keeps each of them waiting while it lasts: that is stopped by a
  person, not a count (``signin_failures`` in the portal's database holds each failure's account, address
  and time).  The owner can meanwhile sign in from any other address, known or new (a phone's connection),
  since a known pair's failures count against no other cap.

No lock is forever: while locked, no password is checked and nothing is counted, so a lock ends at the
latest one window (one minute for a known pair) after the failures that caused it, and the message says
when (in Japanese, the server's time zone).  A successful sign-in forgets that account's failures from that
address and makes the pair known.

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

KNOWN_PAIR_WINDOW = timedelta(minutes=1)
"""The window a known (account, address) pair's failures are counted in, and so the longest its lock lasts
after the failures stop (never longer than ``portal_signin_window_minutes``)."""


class LockReason(StrEnum):
    """Which count locked a sign-in."""

    ACCOUNT_AND_ADDRESS = "account_and_address"
    """Too many failures for this account from this address (in the window, or in ``KNOWN_PAIR_WINDOW`` if the
    account has signed in from here before)."""

    ADDRESS = "address"
    """Too many failures from this address for accounts never signed in from it, and this account is one."""

    ACCOUNT = "account"
    """Too many failures for this account from addresses it has never signed in from, and this is one."""


LOCK_MESSAGES = {
    LockReason.ACCOUNT_AND_ADDRESS: "この学籍番号へのサインインに続けて失敗したため、しばらくサインインできません。"
                                    "{until} 以降に、パスワードを確かめてもう一度お試しください。"
                                    "パスワードが分からないときは先生に相談してください。",
    LockReason.ADDRESS: "このネットワークからのサインインの失敗が多すぎるため、しばらくサインインできません。"
                        "{until} 以降にもう一度お試しください。"
                        "前にこのネットワークからサインインしたことのある学籍番号は、いまもサインインできます。",
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
    """The counts of the module docstring, over ``store``'s failed sign-ins."""

    def __init__(self, store: Store, config: CourseConfig, clock: Callable[[], datetime]):
        self.store, self.clock = store, clock
        self.window = timedelta(minutes=config.portal_signin_window_minutes)
        self.known_pair_window = min(KNOWN_PAIR_WINDOW, self.window)
        self.per_account_and_address = config.portal_signin_failures_per_account_and_address
        self.per_address = config.portal_signin_failures_per_address
        self.per_account = config.portal_signin_failures_per_account

    def lock(self, account: str, address: str) -> SignInLock | None:
        """The lock on signing in to ``account`` from ``address`` now, or None if the password may be checked."""
        now = self.clock()
        if self.store.known_address(account, address):  # one count, over a short window: see the module docstring
            window = self.known_pair_window
            counts = [(LockReason.ACCOUNT_AND_ADDRESS, self.per_account_and_address,
                       dict(account=account, address=address))]
        else:
            window = self.window
            counts = [(LockReason.ACCOUNT_AND_ADDRESS, self.per_account_and_address,
                       dict(account=account, address=address)),
                      (LockReason.ADDRESS, self.per_address, dict(address=address, unknown_pairs_only=True)),
                      (LockReason.ACCOUNT, self.per_account, dict(account=account, unknown_pairs_only=True))]
        for reason, limit, which in counts:
            times = self.store.signin_failures(now - window, **which)
            if len(times) >= limit:
                # the count falls below the limit when all but limit - 1 of these failures are out of the window
                return SignInLock(reason, times[len(times) - limit] + window)
        return None

    def failed(self, account: str, address: str) -> None:
        """Count a wrong password (or unknown account) for ``account`` from ``address``."""
        now = self.clock()
        self.store.add_signin_failure(account, address, now, forget_before=now - self.window)

    def succeeded(self, user_id: str, address: str) -> None:
        """A sign-in worked: its address becomes known to the account and its failures there are forgotten."""
        self.store.forget_signin_failures(user_id, address)
        self.store.add_known_address(user_id, address, self.clock())
