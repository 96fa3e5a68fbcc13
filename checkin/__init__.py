"""checkin: signed QR credentials, a signing service and offline gate scanners for public events."""

__version__ = "0.1.0"
