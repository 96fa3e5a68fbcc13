"""What both command lines share: one place that turns our errors into one clear line."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import click

from checkin import i18n
from checkin.core.clock import parse_time
from checkin.core.errors import N_, CheckinError, InputError

__all__ = [
    "EXIT_ERROR",
    "PRIVATE_UMASK",
    "LazyChoice",
    "directions",
    "fail",
    "language",
    "now_or",
    "parse_time",
    "run_guarded",
    "shifted_clock",
]

EXIT_ERROR = 1
# Both command lines run with it: what a library creates for them (SQLite's WAL, a PDF, a PNG) is
# the owner's alone, like the files they create with an explicit mode (checkin.files).
PRIVATE_UMASK = 0o077


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
    """Run a click group, under umask 077, so that every CheckinError ends as one line and an exit code."""
    os.umask(PRIVATE_UMASK)
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


def directions() -> list[str]:
    """A gate's directions, for a LazyChoice (the trust module loads the cryptography)."""
    from checkin.core.trust import Direction

    return [d.value for d in Direction]


class LazyChoice(click.Choice[str]):
    """A choice whose values come from a module too heavy to import for every `--help`.

    The values are loaded the first time the option is shown or parsed (the service's roles live
    beside the password hashing and the database models; directions beside the cryptography).
    """

    def __init__(self, values: Callable[[], Iterable[str]]) -> None:
        self._values = values
        self._loaded: tuple[str, ...] | None = None
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        """The values, loaded on first use."""
        if self._loaded is None:
            self._loaded = tuple(self._values())
        return self._loaded

    @choices.setter
    def choices(self, value: Iterable[Any]) -> None:
        self._loaded = tuple(value) or None  # click's __init__ sets (); keep loading lazily
