"""Every bound the tracker puts on what people send it: one registry.

Password hashing is bounded per process: each scrypt needs 128 MiB (see
:mod:`tracker.access`), so at most :data:`CONCURRENT_HASHES` run at once,
and an attempt waits :data:`HASH_WAIT_S` seconds at most for its turn
before it is refused.
"""

#: Scrypt hashes (sign-ins, new passwords and codes) running at once in one process: 4 x 128 MiB.
CONCURRENT_HASHES = 4
#: How long an attempt waits for a free hash before it is refused, in seconds.
HASH_WAIT_S = 20.0
