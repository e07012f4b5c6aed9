#!/bin/sh
# SPDX-License-Identifier: MIT
# The synchronization suite with the server's database on a real PostgreSQL server.
exec "$top_srcdir/tests/backend.sh" pgsql "$top_builddir/tests/test_sync"
