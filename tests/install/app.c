/* SPDX-License-Identifier: MIT */
/*
 * A program as an application developer writes it: generated code for a
 * schema of its own, compiled against the installed headers and dbsync.pc.
 * Prints what it read back; tests/install.sh compares the output and the
 * operations log with what the program did.
 */
#include <stdio.h>

#include "clinic.h"

static int fail(dbsync_conn *db, const char *what)
{
    printf("%s: %s\n", what, dbsync_conn_error(db)->message);
    return 1;
}

int main(int argc, char **argv)
{
    dbsync_conn *db;
    dbsync_error err;
    if (argc != 2)
        return 2;
    if (dbsync_conn_open(&db, argv[1], &clinic_schema, &err)) {
        printf("open: %s\n", err.message);
        return 1;
    }
    if (dbsync_conn_create_all(db))
        return fail(db, "create");
    clinic_patient p = CLINIC_PATIENT_INIT;
    p.name = "Ada";
    p.dob = (dbsync_date){1815, 12, 10};
    p.has_dob = true;
    if (clinic_patient_insert(db, &p))
        return fail(db, "insert patient");
    clinic_visit v = CLINIC_VISIT_INIT;
    v.patient_id = p.id;
    v.at = (dbsync_datetime){{2026, 11, 26}, {9, 0, 0, 0}};
    if (clinic_visit_insert(db, &v))
        return fail(db, "insert visit");
    clinic_visit got = CLINIC_VISIT_INIT;
    if (clinic_visit_get(db, v.id, &got))
        return fail(db, "get visit");
    printf("visit %lld patient %lld fee %s\n", (long long)got.id, (long long)got.patient_id,
           got.fee);
    clinic_visit_clear(&got);
    clinic_patient found = CLINIC_PATIENT_INIT;
    if (clinic_patient_find_by_name_dob(db, "Ada", (dbsync_date){1815, 12, 10}, &found))
        return fail(db, "find patient");
    printf("found %s\n", found.name);
    clinic_patient_clear(&found);
    if (clinic_patient_delete(db, p.id))
        return fail(db, "delete patient");
    dbsync_conn_close(db);
    return 0;
}
