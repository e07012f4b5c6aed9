#!/bin/sh
# SPDX-License-Identifier: MIT
# The synchronization suite with the server's database on a real MariaDB/MySQL server.
exec "$top_srcdir/tests/backend.sh" mysql "$top_builddir/tests/test_sync"
