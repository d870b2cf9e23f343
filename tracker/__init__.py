"""Clinic records for before/after photo tracking.

One module per concern: :mod:`~tracker.db` (data folder, engine, migrations),
:mod:`~tracker.models`, :mod:`~tracker.records` (clients, screening, consent,
courses, sessions, audit), :mod:`~tracker.photostore` (immutable originals),
:mod:`~tracker.photos` (import and analysis), :mod:`~tracker.progress`,
:mod:`~tracker.gallery`, :mod:`~tracker.clientdata` (export and erasure),
:mod:`~tracker.backup` and :mod:`~tracker.access`. ``python -m tracker``
is the command line over them.
"""
