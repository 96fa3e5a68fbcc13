"""What is wrong with a field or a row, as a reason and its parameters, worded where it is shown."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from checkin import i18n
from checkin.core.errors import InputError, Reason


@dataclass(frozen=True)
class Problem:
    """One thing wrong: a reason, the values its message names, and a detail (English) if any."""

    reason: Reason
    params: Mapping[str, str | int] = field(default_factory=dict)
    detail: str = ""

    def text(self, lang: str = "en") -> str:
        """The problem in words, in Vietnamese ("vi") or English ("en")."""
        head = i18n.message(self.reason, lang, **self.params)
        return f"{head}: {self.detail}" if self.detail else head


@dataclass(frozen=True)
class RowError:
    """A refused row of a guest list (its line), or of a stored guest (its `guest_id`)."""

    line: int
    problem: Problem
    guest_id: int | None = None
    name: str = ""  # the guest the row names, when it names one

    @property
    def reason(self) -> Reason:
        """The reason code of the refusal."""
        return self.problem.reason

    def text(self, lang: str = "en") -> str:
        """Why the row was refused, in words."""
        return self.problem.text(lang)

    def __str__(self) -> str:
        who = f" ({self.name})" if self.name else ""
        return f"line {self.line}{who}: {self.text('en')} [{self.reason}]"


class FieldsInvalid(InputError):
    """Some fields of a form or request are refused: `problems` by field name."""

    def __init__(self, problems: Mapping[str, Problem]) -> None:
        self.problems = dict(problems)
        super().__init__("; ".join(f"{name}: {p.text('en')}" for name, p in self.problems.items()))

    def texts(self, lang: str) -> dict[str, str]:
        """The problems in words, by field name, as a form shows them."""
        return {name: p.text(lang) for name, p in self.problems.items()}
