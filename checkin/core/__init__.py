"""The pure core shared by the service and the gate: formats, verification and the journal chain.

Nothing here does I/O or imports a framework (Flask, SQLAlchemy, click, OpenCV, NumPy, sqlite3):
functions take bytes and a reference time and return values or raise `errors.CheckinError`.
"""
