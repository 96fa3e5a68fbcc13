"""The gate's decision: text, bundle, gate state and `now` in; a verdict out. Pure: no I/O.

This holds the stateless part of DESIGN section 3's order (format, signature, claims, audience,
time, revocation, bundle freshness, zone). Entry counting and anti-passback join it with the gate
journal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from checkin import credential
from checkin.credential import Credential
from checkin.errors import CredentialError, Reason, Verdict, message, verdict_for
from checkin.trust import Direction, Freshness, TrustBundle


@dataclass(frozen=True)
class GateState:
    """Where the gate stands and which way it counts."""

    zone: str | None = None
    direction: Direction = Direction.IN


@dataclass(frozen=True)
class Decision:
    """A verdict with its reason and, once the signature held, the credential it is about."""

    verdict: Verdict
    reason: Reason
    detail: str = ""
    credential: Credential | None = None
    kid: bytes | None = None
    warning: str = ""

    def message(self, lang: str = "vi") -> str:
        """The reason in words, in Vietnamese or English."""
        return message(self.reason, lang)

    def to_json(self, text: str) -> dict[str, Any]:
        """The JSON line the CLI prints for this decision."""
        return {
            "input": text,
            "verdict": self.verdict.value,
            "reason": self.reason.value,
            "message": self.message("vi"),
            "message_en": self.message("en"),
            "detail": self.detail,
            "warning": self.warning,
            "credential": None if self.credential is None else self.credential.to_json(),
        }


def _decision(reason: Reason, detail: str = "", **fields: Any) -> Decision:
    return Decision(verdict_for(reason), reason, detail, **fields)


def decide(text: str, bundle: TrustBundle, state: GateState, now: datetime) -> Decision:
    """Verify a scanned text and apply the gate's zone and the bundle's freshness."""
    freshness = bundle.freshness(now)
    warning = "bundle_expired" if freshness is Freshness.EXPIRED else ""
    try:
        verified = credential.verify(text, bundle, now)
    except CredentialError as error:
        return _decision(error.reason, error.detail, credential=error.credential, kid=error.kid, warning=warning)
    cred = verified.credential
    if freshness is Freshness.STALE:
        # the code itself verified, but revocations newer than this bundle may be missing
        detail = f"bundle v{bundle.version} expired at {bundle.expires_at.isoformat()}; sync the gate"
        return _decision(Reason.BUNDLE_STALE, detail, credential=cred, kid=verified.kid)
    if state.zone is not None and state.zone not in cred.zones:
        return _decision(
            Reason.ZONE_NOT_ALLOWED,
            f"zone {state.zone!r} is not among {', '.join(cred.zones) or 'none'}",
            credential=cred,
            kid=verified.kid,
            warning=warning,
        )
    return _decision(Reason.ADMITTED, credential=cred, kid=verified.kid, warning=warning)
