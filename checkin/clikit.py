"""What both command lines share: one place that turns our errors into one clear line."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

import click

from checkin import i18n
from checkin.core.errors import N_, CheckinError, InputError

EXIT_ERROR = 1


def fail(error: CheckinError, *, verbose: bool, code: int = EXIT_ERROR) -> NoReturn:
    """Print `error [code]: message` (`lỗi [code]: ...` in Vietnamese) to stderr and exit; the traceback
    only with --verbose."""
    if verbose:
        import traceback

        traceback.print_exception(error, file=sys.stderr)
    lang = language()
    line = i18n.gettext(lang, N_("error [%(code)s]: %(message)s"), code=error.code, message=i18n.describe(error, lang))
    click.echo(line, err=True)
    sys.exit(code)


def language() -> str:
    """The interface language: CHECKIN_LANG, else LANG; Vietnamese when it starts with "vi"."""
    chosen = os.environ.get("CHECKIN_LANG") or os.environ.get("LANG") or ""
    return "vi" if chosen.lower().startswith("vi") else "en"


def run_guarded(main: Callable[..., Any], *, exit_codes: dict[type[CheckinError], int] | None = None) -> None:
    """Run a click group so that every CheckinError ends as one line and an exit code."""
    verbose = "--verbose" in sys.argv or "-v" in sys.argv
    try:
        main(standalone_mode=False)
    except CheckinError as error:
        code = next((c for kind, c in (exit_codes or {}).items() if isinstance(error, kind)), EXIT_ERROR)
        fail(error, verbose=verbose, code=code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_ERROR)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        detail = f"{where}{error.strerror or error}; check the path and its permissions"
        fail(InputError(detail), verbose=verbose)
    except KeyboardInterrupt:
        sys.exit(130)


def parse_time(text: str, timezone: str, what: str) -> datetime:
    """An ISO 8601 time; without a zone it is read in `timezone` (the event's, usually)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(f"{what}: {text!r} is not an ISO 8601 time such as 2022-03-26T07:30") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo(timezone))
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01 east of UTC, 9999-12-31 west of it
        raise InputError(f"{what}: {text!r} is outside the calendar") from None


def shifted_clock(start: datetime, mono: Callable[[], float] = time.monotonic) -> Callable[[], datetime]:
    """A clock that starts at `start` and runs at the monotonic clock's pace (demos, replays, tests)."""
    origin = mono()

    def clock() -> datetime:
        return start + timedelta(seconds=mono() - origin)

    return clock


def now_or(text: str | None, timezone: str) -> datetime:
    """The current time, or the time given with --now (for demos and tests)."""
    if text:
        return parse_time(text, timezone, "--now")
    return datetime.now(UTC).replace(microsecond=0)
