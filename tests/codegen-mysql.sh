#!/bin/sh
# SPDX-License-Identifier: MIT
# The generated-code suite on a real MariaDB/MySQL server.
exec "$top_srcdir/tests/backend.sh" mysql "$top_builddir/tests/test_codegen"
