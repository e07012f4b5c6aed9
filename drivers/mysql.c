/* SPDX-License-Identifier: MIT */
/*
 * MySQL / MariaDB dialect. InnoDB tables in utf8mb4; DECIMAL, LONGBLOB,
 * DATE, TIME(6), DATETIME(6); values read back through CAST(.. AS CHAR)
 * and HEX() so nothing depends on the driver's conversions. Keys on
 * unbounded text use a 255-character prefix (MySQL cannot index LONGTEXT
 * whole): give such columns a length. Pushes serialize on the sync_lock row.
 */
#include <string.h>

#include "conn.h"

int dbsync__network_configure(dbi_conn dbi, const dbsync__url *url, dbsync_error *err);

static int my_after_connect(dbsync_conn *conn, const dbsync__url *url)
{
    (void)url;
    /* libdbi's "UTF-8" is MySQL's 3-byte utf8: ask for the whole of UTF-8. */
    int rc = dbsync__exec(conn, "SET NAMES utf8mb4 COLLATE utf8mb4_bin", "setting the character set");
    if (rc)
        return rc;
    return dbsync__exec(conn,
                        "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,"
                        "ERROR_FOR_DIVISION_BY_ZERO'",
                        "setting sql_mode");
}

static void my_select_column(dbsync__buf *sql, const dbsync_column *col, const char *q,
                             unsigned index)
{
    (void)index;
    switch (col->type) {
    case DBSYNC_TYPE_INTEGER:
    case DBSYNC_TYPE_BOOLEAN:
        dbsync__buf_puts(sql, q);
        break;
    case DBSYNC_TYPE_BLOB:
        dbsync__buf_printf(sql, "HEX(%s)", q);
        break;
    default:
        dbsync__buf_printf(sql, "CAST(%s AS CHAR)", q);
        break;
    }
}

static int my_write_lock(dbsync_conn *conn)
{
    /* A row lock lives as long as the transaction, whatever ends it. */
    return dbsync__exec(conn, "SELECT id FROM sync_lock WHERE id = 1 FOR UPDATE",
                        "taking the write lock");
}

static int my_classify(const char *m)
{
    if (strstr(m, "Duplicate entry"))
        return DBSYNC_EEXISTS;
    if (strstr(m, "foreign key constraint fails"))
        return DBSYNC_ECONFLICT;
    if (strstr(m, "cannot be null") || strstr(m, "Incorrect") || strstr(m, "Out of range") ||
        strstr(m, "Data too long"))
        return DBSYNC_EINVALID;
    return DBSYNC_ERROR;
}

const dbsync__dialect dbsync__dialect_mysql = {
    .name = "mysql",
    .ident_quote = '`',
    .pk_ddl = "BIGINT AUTO_INCREMENT PRIMARY KEY",
    .inline_fk = false,
    .fk_suffix = "",
    .ddl_in_transaction = false,
    .insert_returning = false,
    .begin_sql = "START TRANSACTION",
    .true_literal = "TRUE",
    .false_literal = "FALSE",
    .create_table_suffix = " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
    .configure = dbsync__network_configure,
    .after_connect = my_after_connect,
    .types = {NULL, "BIGINT", "BOOLEAN", "DOUBLE", "DECIMAL(%u,%u)", "LONGTEXT", "LONGBLOB", "DATE",
              "TIME(6)", "DATETIME(6)"},
    .text_sized = "VARCHAR(%u)",
    .text_sized_max = 16000, /* longer VARCHARs do not fit MySQL's row size */
    .select_column = my_select_column,
    .real_literal = NULL,
    .blob_literal = dbsync__hex_blob_literal,
    .text_key_prefix = "(255)",
    .table_exists_sql = "SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = %s",
    .key_inserted = NULL,
    .write_ops = NULL,
    .write_lock = my_write_lock,
    .defer_fk_sql = "SET FOREIGN_KEY_CHECKS = 0",
    .defer_fk_end_sql = "SET FOREIGN_KEY_CHECKS = 1",
    .error_aborts_transaction = false,
    .deferred_fk_unchecked = true, /* FOREIGN_KEY_CHECKS=0 skips, not defers */
    .fk_off_sql = "SET FOREIGN_KEY_CHECKS = 0",
    .fk_on_sql = "SET FOREIGN_KEY_CHECKS = 1",
    .classify_error = my_classify,
};

