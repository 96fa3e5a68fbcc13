"""The operations the admin pages, the JSON API and the `checkin` command all perform.

One module per subject: `events`, `guests` (checks, adding, editing), `guestlist` (reading CSV
guest lists), `issuing` (signing, issuing, re-issuing, ticket files), `revocation`, `gates`
(devices and enrolment), `ingest` (journal upload) and `bundles` (trust bundles). Each operation
is one function with typed arguments that returns values or raises a `CheckinError` whose reason
(and parameters) the caller words in its own language: views, API handlers and commands parse,
call and render.
"""
