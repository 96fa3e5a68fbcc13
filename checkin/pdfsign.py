"""PDF signatures for the officer's reports (pyHanko): sign with the report key, check offline.

A report is signed as PAdES baseline B (ETSI.CAdES.detached, SHA-256, ECDSA P-256), so any PDF
reader shows it signed and names the certificate's subject. Checking takes the report certificate
as the only trust anchor, fetches nothing, and accepts a file only when the one signature is intact,
made by that certificate's key, and covers the whole file: anything appended after signing (an
incremental update, even one a PDF reader would call harmless) fails.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

FIELD = "Signature1"


def _asn1_certificate(certificate: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))


def sign_pdf(
    pdf: bytes,
    key: ec.EllipticCurvePrivateKey,
    certificate: x509.Certificate,
    now: datetime,
    *,
    reason: str = "",
    location: str = "",
) -> bytes:
    """The PDF with a PAdES B-B signature by `key` over all of it, dated `now`, appended as an
    incremental update (the bytes before it are kept as they were)."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    cert = _asn1_certificate(certificate)
    plain = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    signer = signers.SimpleSigner(
        signing_cert=cert,
        signing_key=asn1_keys.PrivateKeyInfo.load(plain),
        cert_registry=SimpleCertificateStore.from_certs([cert]),  # type: ignore[no-untyped-call]
    )
    meta = signers.PdfSignatureMetadata(
        field_name=FIELD,
        md_algorithm="sha256",
        subfilter=SigSeedSubFilter.PADES,
        reason=reason or None,
        location=location or None,
    )

    class _DatedSigner(signers.PdfSigner):
        """pyHanko reads the machine's clock for the signing time; ours is a parameter."""

        def init_signing_session(self, *args: Any, **kwargs: Any) -> Any:
            session = super().init_signing_session(*args, **kwargs)
            session.system_time = now
            return session

    out = io.BytesIO()
    _DatedSigner(meta, signer=signer).sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), output=out)
    return out.getvalue()


@dataclass(frozen=True)
class SignatureCheck:
    """What checking a signed report found. `problem` says in English why it is not valid ("" when it is)."""

    signer: str
    signed_at: datetime | None
    whole_file: bool
    problem: str

    @property
    def valid(self) -> bool:
        """True when the report is exactly what the report key signed."""
        return not self.problem


def verify_pdf(pdf: bytes, certificate: x509.Certificate, now: datetime) -> SignatureCheck:
    """Check a signed report against the report certificate, offline, at `now`."""
    from pyhanko.pdf_utils.misc import PdfError
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.errors import SignatureValidationError
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    try:
        signatures = PdfFileReader(io.BytesIO(pdf), strict=False).embedded_signatures
    except (PdfError, ValueError, KeyError, TypeError, IndexError) as exc:
        return SignatureCheck("", None, False, f"not a readable PDF ({exc})")
    if len(signatures) != 1:
        return SignatureCheck("", None, False, f"a report has exactly one signature; this file has {len(signatures)}")
    context = ValidationContext(trust_roots=[_asn1_certificate(certificate)], allow_fetching=False, moment=now)
    try:
        status = validate_pdf_signature(signatures[0], context)
    except (SignatureValidationError, PdfError, ValueError, KeyError, TypeError) as exc:
        return SignatureCheck("", None, False, f"the signature cannot be checked ({exc})")
    signer = status.signing_cert.subject.human_friendly if status.signing_cert is not None else ""
    whole = status.coverage == SignatureCoverageLevel.ENTIRE_FILE
    if not status.intact:
        problem = "the signed content was changed after signing"
    elif not status.valid:
        problem = "the signature does not match the signed content"
    elif not status.trusted:
        problem = "the signer is not the report certificate given"
    elif not whole:
        problem = "something was added to the file after it was signed"
    else:
        problem = ""
    return SignatureCheck(signer, status.signer_reported_dt, whole, problem)
