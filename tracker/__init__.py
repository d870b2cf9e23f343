"""Clinic records for before/after photo tracking.

One module per concern: :mod:`~tracker.db` (data folder, engine, migrations),
:mod:`~tracker.models`, :mod:`~tracker.records` (clients, screening, consent,
courses, sessions, corrections with history, due dates, batch recall, audit),
:mod:`~tracker.photostore` (immutable originals), :mod:`~tracker.photos`
(import, analysis, baselines, photo corrections), :mod:`~tracker.cards`
(printable access-code cards), :mod:`~tracker.progress`,
:mod:`~tracker.gallery`, :mod:`~tracker.clientdata` (export and erasure),
:mod:`~tracker.backup` and :mod:`~tracker.access`. ``python -m tracker``
is the command line over them.
"""
