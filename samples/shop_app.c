/* SPDX-License-Identifier: MIT */
/*
 * A small shop application on generated accessors (samples/shop.xml):
 * it writes customers and purchases to a local SQLite file the way an
 * offline device would, and shows what the operations log recorded.
 *
 *   shop_app DATABASE_FILE
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shop.h"

static int fail(dbsync_conn *db, const char *what)
{
    fprintf(stderr, "shop_app: %s: %s\n", what, dbsync_conn_error(db)->message);
    dbsync_conn_close(db);
    return 1;
}

static int print_op(const dbsync_operation *op, void *payload)
{
    (void)payload;
    printf("  #%-3lld %c %-9s id %lld%s\n", (long long)op->order, op->command, op->table,
           (long long)op->row_id, op->version_id ? "" : "   (not pushed yet)");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: shop_app DATABASE_FILE\n");
        return 2;
    }
    char url[4096];
    snprintf(url, sizeof url, "sqlite3:%s", argv[1]);
    dbsync_conn *db;
    dbsync_error err;
    if (dbsync_conn_open(&db, url, &shop_schema, &err) != DBSYNC_OK) {
        fprintf(stderr, "shop_app: %s\n", err.message);
        return 1;
    }
    if (dbsync_conn_create_all(db) != DBSYNC_OK)
        return fail(db, "create tables");

    /* Two customers; the second with a 30-digit-safe decimal and a photo. */
    shop_customer ann = SHOP_CUSTOMER_INIT;
    ann.email = "ann@example.com";
    if (shop_customer_insert(db, &ann) != DBSYNC_OK)
        return fail(db, "insert ann");
    unsigned char photo[] = {0x89, 'P', 'N', 'G', 0x00, 0xff};
    shop_customer bob = SHOP_CUSTOMER_INIT;
    bob.email = "b\xc3\xb8rge@example.com";
    bob.credit = "1250.50";
    bob.vip = true;
    bob.photo.data = photo;
    bob.photo.len = sizeof photo;
    bob.born = (dbsync_date){1984, 2, 29};
    bob.has_born = true;
    if (shop_customer_insert(db, &bob) != DBSYNC_OK)
        return fail(db, "insert bob");
    printf("inserted customers %lld and %lld\n", (long long)ann.id, (long long)bob.id);

    /* A purchase made offline, in one transaction with a credit update. */
    if (dbsync_conn_begin(db) != DBSYNC_OK)
        return fail(db, "begin");
    shop_purchase p = SHOP_PURCHASE_INIT;
    p.customer_id = bob.id;
    p.has_customer_id = true;
    p.total = 99.95;
    p.has_total = true;
    p.at = (dbsync_datetime){{2026, 11, 26}, {9, 30, 0, 0}};
    if (shop_purchase_insert(db, &p) != DBSYNC_OK)
        return fail(db, "insert purchase");
    bob.credit = "1150.55";
    if (shop_customer_update(db, &bob) != DBSYNC_OK)
        return fail(db, "update bob");
    if (dbsync_conn_commit(db) != DBSYNC_OK)
        return fail(db, "commit");

    /* A transaction that is abandoned leaves nothing behind, not even its log. */
    if (dbsync_conn_begin(db) != DBSYNC_OK)
        return fail(db, "begin");
    shop_customer ghost = SHOP_CUSTOMER_INIT;
    ghost.email = "ghost@example.com";
    if (shop_customer_insert(db, &ghost) != DBSYNC_OK)
        return fail(db, "insert ghost");
    dbsync_conn_rollback(db);

    /* Local-only drafts are not logged. */
    shop_draft d = SHOP_DRAFT_INIT;
    d.body = "remember to call ann";
    if (shop_draft_insert(db, &d) != DBSYNC_OK)
        return fail(db, "insert draft");

    /* Deleting ann; then finding bob again by his unique email. */
    if (shop_customer_delete(db, ann.id) != DBSYNC_OK)
        return fail(db, "delete ann");
    shop_customer found = SHOP_CUSTOMER_INIT;
    if (shop_customer_find_by_email(db, "b\xc3\xb8rge@example.com", &found) != DBSYNC_OK)
        return fail(db, "find bob");
    printf("found %s: credit %s, vip %s, photo %zu bytes, born %04d-%02d-%02d\n", found.email,
           found.credit, found.vip ? "yes" : "no", found.photo.len, found.born.year,
           found.born.month, found.born.day);
    shop_customer_clear(&found);

    printf("\ncustomers now:\n");
    dbsync_iter *it;
    if (shop_customer_iter_new(&it, db, NULL) != DBSYNC_OK)
        return fail(db, "list customers");
    shop_customer row = SHOP_CUSTOMER_INIT;
    int rc;
    while ((rc = shop_customer_iter_next(it, &row)) == DBSYNC_OK)
        printf("  %lld  %-22s credit %8s\n", (long long)row.id, row.email, row.credit);
    shop_customer_clear(&row);
    dbsync_iter_free(it);
    if (rc != DBSYNC_ITEROVER)
        return fail(db, "list customers");

    printf("\noperations log (what the next push would send):\n");
    if (dbsync_oplog_foreach(db, false, print_op, NULL) != DBSYNC_OK)
        return fail(db, "read the log");
    dbsync_conn_close(db);
    return 0;
}
