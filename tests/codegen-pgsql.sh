#!/bin/sh
# SPDX-License-Identifier: MIT
# The generated-code suite on a real PostgreSQL server.
exec "$top_srcdir/tests/backend.sh" pgsql "$top_builddir/tests/test_codegen"
