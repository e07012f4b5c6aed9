/* SPDX-License-Identifier: MIT */
/*
 * Tests of dbsync-codegen. The code generated at check time from
 * tests/codegen/alltypes/schema.xml is exercised on real SQLite files:
 * every generated function, every type at its edges, NULLs, defaults, and
 * the descriptor against what the loader reads from the same file. The
 * program itself is run on bad arguments and bad schemas, and the golden
 * cases under tests/codegen/ are checked (expected error or strict compile).
 */
#include "alltypes.h" /* first: the generated header compiles on its own */

#include <dirent.h>
#include <fcntl.h>
#include <float.h>
#include <math.h>
#include <sys/wait.h>

#include "testutil.h"

#define CODEGEN TEST_BUILDDIR "/codegen/dbsync-codegen"
#define ALLTYPES_XML "tests/codegen/alltypes/schema.xml"

static const char *tmp;

/* ---- helpers ---- */

/* A fresh database: a SQLite file, or the server of DBSYNC_TEST_URL (tu_open). */
static dbsync_conn *open_db(const char *file)
{
    return tu_open(tmp, file, &alltypes_schema);
}

/* Asserts a call returned @p want, printing the connection's error otherwise. */
#define CHECK_RC(db, want, call)                                                                   \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != (want))                                                                         \
            fail_msg("%s: got %d, want %d (%s)", #call, rc_, (want),                               \
                     dbsync_conn_error(db)->message);                                              \
    } while (0)

static void assert_str_or_null(const char *a, const char *b)
{
    if (!a || !b) {
        assert_null(a);
        assert_null(b);
        return;
    }
    assert_string_equal(a, b);
}

static void assert_blob_same(dbsync_blob a, dbsync_blob b)
{
    if (!a.data || !b.data) {
        assert_null(a.data);
        assert_null(b.data);
        return;
    }
    assert_int_equal(a.len, b.len);
    if (a.len)
        assert_memory_equal(a.data, b.data, a.len);
}

/* Same value, to the last bit. The sign of zero is not compared: SQLite
 * stores a REAL -0.0 as the integer 0. */
static void assert_real_same(double a, double b)
{
    if (!(a == b))
        fail_msg("real %.17g != %.17g", a, b);
}

static void assert_date_same(dbsync_date a, dbsync_date b)
{
    assert_int_equal(a.year, b.year);
    assert_int_equal(a.month, b.month);
    assert_int_equal(a.day, b.day);
}

static void assert_time_same(dbsync_time a, dbsync_time b)
{
    assert_int_equal(a.hour, b.hour);
    assert_int_equal(a.minute, b.minute);
    assert_int_equal(a.second, b.second);
    assert_int_equal(a.usec, b.usec);
}

static void assert_datetime_same(dbsync_datetime a, dbsync_datetime b)
{
    assert_date_same(a.date, b.date);
    assert_time_same(a.time, b.time);
}

/* Compares two items field by field; values behind a false has_ flag are ignored. */
static void assert_item_same(const alltypes_item *a, const alltypes_item *b)
{
    assert_int_equal(a->id, b->id);
    assert_int_equal(a->i, b->i);
    assert_int_equal(a->b, b->b);
    assert_real_same(a->r, b->r);
    assert_string_equal(a->d, b->d);
    assert_string_equal(a->t, b->t);
    assert_blob_same(a->bl, b->bl);
    assert_date_same(a->dt, b->dt);
    assert_time_same(a->tm, b->tm);
    assert_datetime_same(a->ts, b->ts);
    assert_int_equal(a->has_ni, b->has_ni);
    if (a->has_ni)
        assert_int_equal(a->ni, b->ni);
    assert_int_equal(a->has_nb, b->has_nb);
    if (a->has_nb)
        assert_int_equal(a->nb, b->nb);
    assert_int_equal(a->has_nr, b->has_nr);
    if (a->has_nr)
        assert_real_same(a->nr, b->nr);
    assert_str_or_null(a->nd, b->nd);
    assert_str_or_null(a->nt, b->nt);
    assert_blob_same(a->nbl, b->nbl);
    assert_int_equal(a->has_ndt, b->has_ndt);
    if (a->has_ndt)
        assert_date_same(a->ndt, b->ndt);
    assert_int_equal(a->has_ntm, b->has_ntm);
    if (a->has_ntm)
        assert_time_same(a->ntm, b->ntm);
    assert_int_equal(a->has_nts, b->has_nts);
    if (a->has_nts)
        assert_datetime_same(a->nts, b->nts);
    assert_int_equal(a->has_owner_id, b->has_owner_id);
    if (a->has_owner_id)
        assert_int_equal(a->owner_id, b->owner_id);
}

static unsigned char odd_bytes[] = {0x00, 0xFF, 0x00, 0x7F, 0x80, 'x', 0x00, 0xFE, '\'', '\\'};
static unsigned char nul_bytes[] = {0x00, 0x00, 0x00};
static unsigned char empty_bytes[1];

/* Not-null columns at their smallest, every nullable column NULL. */
static alltypes_item item_low(void)
{
    alltypes_item it = ALLTYPES_ITEM_INIT;
    it.i = INT64_MIN;
    it.b = true;
    it.r = -1.5;
    it.d = (char *)"-99999999999999999999.9999999999";
    it.t = (char *)"";
    it.bl = (dbsync_blob){odd_bytes, sizeof odd_bytes};
    it.dt = (dbsync_date){1, 1, 1};
    it.tm = (dbsync_time){0, 0, 0, 0};
    it.ts = (dbsync_datetime){{1, 1, 1}, {0, 0, 0, 0}};
    return it;
}

/* Not-null columns at their largest, every nullable column set (to values
 * that look like NULL: zero, false, empty). */
static alltypes_item item_high(int64_t owner)
{
    alltypes_item it = ALLTYPES_ITEM_INIT;
    it.i = INT64_MAX;
    it.b = false;
    it.r = 2.5e10;
    it.d = (char *)"99999999999999999999.9999999999";
    it.t =
        (char *)"\xE6\x97\xA5\xE6\x9C\xAC caf\xC3\xA9 \xE2\x98\x83 \"quoted\" 'single' back\\slash "
                "%s ?\?/ \t\n\r end";
    it.bl = (dbsync_blob){empty_bytes, 0};
    it.dt = (dbsync_date){9999, 12, 31};
    it.tm = (dbsync_time){23, 59, 59, 999999};
    it.ts = (dbsync_datetime){{9999, 12, 31}, {23, 59, 59, 999999}};
    it.ni = 0;
    it.has_ni = true;
    it.nb = false;
    it.has_nb = true;
    it.nr = 0.0;
    it.has_nr = true;
    it.nd = (char *)"123456789012345678901234567890.12345678";
    it.nt = (char *)"";
    it.nbl = (dbsync_blob){nul_bytes, sizeof nul_bytes};
    it.ndt = (dbsync_date){2024, 2, 29};
    it.has_ndt = true;
    it.ntm = (dbsync_time){0, 0, 0, 1};
    it.has_ntm = true;
    it.nts = (dbsync_datetime){{2000, 2, 29}, {12, 34, 56, 1}};
    it.has_nts = true;
    it.owner_id = owner;
    it.has_owner_id = true;
    return it;
}

static int64_t add_owner(dbsync_conn *db, const char *name)
{
    alltypes_owner o = ALLTYPES_OWNER_INIT;
    o.name = (char *)name;
    CHECK_RC(db, DBSYNC_OK, alltypes_owner_insert(db, &o));
    assert_true(o.id > 0);
    return o.id;
}

/* Runs @p argv (argv[0] a path) in @p cwd (NULL: here); its stdout and stderr
 * go to @p out and @p err (NUL-terminated, cut to size). Returns the exit status. */
static int run(const char *const argv[], const char *cwd, char *out, size_t outsize, char *err,
               size_t errsize)
{
    char outpath[1200], errpath[1200];
    snprintf(outpath, sizeof outpath, "%s/run.out", tmp);
    snprintf(errpath, sizeof errpath, "%s/run.err", tmp);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fo = open(outpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fo < 0 || fe < 0 || dup2(fo, 1) < 0 || dup2(fe, 2) < 0)
            _exit(126);
        if (cwd && chdir(cwd) != 0)
            _exit(126);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    const char *paths[2] = {outpath, errpath};
    char *bufs[2] = {out, err};
    size_t sizes[2] = {outsize, errsize};
    for (int i = 0; i < 2; i++) {
        FILE *f = fopen(paths[i], "r");
        assert_non_null(f);
        size_t n = fread(bufs[i], 1, sizes[i] - 1, f);
        bufs[i][n] = '\0';
        fclose(f);
    }
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* Asserts @p err is exactly one line starting "dbsync-codegen: ". */
static void assert_one_error_line(const char *err)
{
    assert_true(strncmp(err, "dbsync-codegen: ", 16) == 0);
    const char *nl = strchr(err, '\n');
    assert_non_null(nl);
    assert_int_equal(nl[1], '\0');
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *s = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? 2 * cap : 8192;
            s = realloc(s, cap);
            assert_non_null(s);
        }
        size_t n = fread(s + len, 1, 4096, f);
        len += n;
        if (n == 0)
            break;
    }
    s[len] = '\0';
    fclose(f);
    return s;
}

static bool exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Number of entries in a folder, "." and ".." aside. */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

/* ---- the generated code ---- */

static void test_codegen__insert_get_every_type(void **state)
{
    (void)state;
    dbsync_conn *db = open_db("insert_get.db");
    int64_t owner = add_owner(db, "ann");

    alltypes_item low = item_low();
    CHECK_RC(db, DBSYNC_OK, alltypes_item_insert(db, &low));
    assert_true(low.id > 0);
    alltypes_item high = item_high(owner);
    CHECK_RC(db, DBSYNC_OK, alltypes_item_insert(db, &high));
    assert_true(high.id > low.id);

    alltypes_item got = ALLTYPES_ITEM_INIT;
    CHECK_RC(db, DBSYNC_OK, alltypes_item_get(db, low.id, &got));
    assert_item_same(&got, &low);
    /* NULLs read back as NULL */
    assert_false(got.has_ni);
    assert_false(got.has_nb);
    assert_false(got.has_nr);
    assert_null(got.nd);
    assert_null(got.nt);
    assert_null(got.nbl.data);
    assert_false(got.has_ndt);
    assert_false(got.has_ntm);
    assert_false(got.has_nts);
    assert_false(got.has_owner_id);

    /* get into a struct that owns memory: it is cleared first (valgrind) */
    CHECK_RC(db, DBSYNC_OK, alltypes_item_get(db, high.id, &got));
    assert_item_same(&got, &high);
    /* empty values are not NULL */
    assert_non_null(got.nt);
    assert_string_equal(got.nt, "");
    assert_non_null(got.bl.data);
    assert_int_equal(got.bl.len, 0);
    assert_true(got.has_ni && got.ni == 0);
    assert_true(got.has_nb && !got.nb);

    CHECK_RC(db, DBSYNC_ENOTFOUND, alltypes_item_get(db, high.id + 100, &got));
    alltypes_item_clear(&got);

    /* the smallest decimals */
    alltypes_item small = item_low();
    small.i = 0;
    small.d = (char *)"0.0000000001";
    small.nd = (char *)"-0.00000001";
    CHECK_RC(db, DBSYNC_OK, alltypes_item_insert(db, &small));
    CHECK_RC(db, DBSYNC_OK, alltypes_item_get(db, small.id, &got));
    assert_item_same(&got, &small);
    alltypes_item_clear(&got);
    dbsync_conn_close(db);
}

/* Reals read back to the last bit (value.h: "%.17g" reads back exactly),
 * the extremes included. -0.0 comes back as a zero of either sign. */
static void test_codegen__real_extremes(void **state)
{
    (void)state;
    dbsync_conn *db = open_db("reals.db");
    static const double reals[] = {
        DBL_MAX, -DBL_MAX,  DBL_MIN,   -DBL_MIN, 4.9406564584124654e-324, 0.1,
        -0.1,    1.0 / 3.0, 2.0 / 3.0, 1e300,    123456789.12345678,      -0.0,
        0.0};
    int bad = 0;
    for (size_t k = 0; k < sizeof reals / sizeof reals[0]; k++) {
        alltypes_item it = item_low();
        it.i = (int64_t)k;
        it.r = reals[k];
        it.nr = -reals[k];
        it.has_nr = true;
        CHECK_RC(db, DBSYNC_OK, alltypes_item_insert(db, &it));
        alltypes_item got = ALLTYPES_ITEM_INIT;
        CHECK_RC(db, DBSYNC_OK, alltypes_item_get(db, it.id, &got));
        if (!(got.r == it.r) || !(got.nr == it.nr)) {
            print_error("real %.17g read back as %.17g, %.17g as %.17g\n", it.r, got.r, it.nr,
                        got.nr);
            bad++;
        }
        assert_true(got.has_nr);
        alltypes_item_clear(&got);
    }
    dbsync_conn_close(db);
    assert_int_equal(bad, 0);
}

static void test_codegen__nulls_and_has_flags(void **state)
{
    (void)state;
    dbsync_conn *db = open_db("nulls.db");
    /* values behind a false has_ flag are not written: NULL is */
    alltypes_item it = item_low();
    it.ni = 7;
    it.nb = true;
    it.nr = 2.5;
    it.ndt = (dbsync_date){2020, 1, 2};
    it.ntm = (dbsync_time){1, 2, 3, 4};
    it.nts = (dbsync_datetime){{2020, 1, 2}, {1, 2, 3, 4}};
    it.owner_id = 99;
    CHECK_RC(db, DBSYNC_OK, alltypes_item_insert(db, &it));

    alltypes_item got = ALLTYPES_ITEM_INIT;
    CHECK_RC(db, DBSYNC_OK, alltypes_item_get(db, it.id, &got));
    assert_false(got.has_ni);
    assert_false(got.has_nb);
    assert_false(got.has_nr);
    assert_false(got.has_ndt);
    assert_false(got.has_ntm);
    assert_false(got.has_nts);
    assert_false(got.has_owner_id);
    /* and the values behind them are zero */
    assert_int_equal(got.ni, 0);
    assert_false(got.nb);
    assert_true(got.nr == 0.0);
    assert_int_equal(got.ndt.year, 0);
    assert_int_equal(got.ntm.usec, 0);
    assert_int_equal(got.nts.date.day, 0);
    assert_int_equal(got.owner_id, 0);
    assert_null(got.nd);
    assert_null(got.nt);
    assert_null(got.nbl.data);
    alltypes_item_clear(&got);

    /* a NULL in a not-null column is refused */
    alltypes_item bad = item_low();
    bad.i = 1;
    bad.t = NULL;
    CHECK_RC(db, DBSYNC_EINVALID, alltypes_item_insert(db, &bad));
    bad.t = (char *)"x";
    bad.bl.data = NULL;
    CHECK_RC(db, DBSYNC_EINVALID, alltypes_item_insert(db, &bad));
    bad.bl = (dbsync_blob){nul_bytes, 1};
    bad.d = NULL;
    CHECK_RC(db, DBSYNC_EINVALID, alltypes_item_insert(db, &bad));
    /* a value that does not fit: 21 digits before the point of decimal(30,10) */
    bad.d = (char *)"123456789012345678901.5";
    CHECK_RC(db, DBSYNC_EINVALID, alltypes_item_insert(db, &bad));
    /* text longer than length="100" */
    bad.d = (char *)"1";
    char long_text[102];
    memset(long_text, 'a', 101);
    long_text[101] = '\0';
    bad.nt = long_text;
    CHECK_RC(db, DBSYNC_EINVALID, alltypes_item_insert(db, &bad));
    bad.nt = NULL;
    CHECK_RC(db, DBSYNC_OK, alltypes_item_insert(db, &bad));
    CHECK_RC(db, DBSYNC_OK, alltypes_item_get(db, bad.id, &got));
    assert_string_equal(got.d, "1.0000000000");
    alltypes_item_clear(&got);
    dbsync_conn_close(db);
}

static void test_codegen__init_defaults(void **state)
{
    (void)state;
    const dbsync_table *t = alltypes_defaults_table();
    alltypes_defaults d = ALLTYPES_DEFAULTS_INIT;
    assert_int_equal(d.id, 0);
    assert_true(d.has_i);
    assert_true(d.i == INT64_MIN);
    assert_true(d.i2 == INT64_MAX);
    assert_true(d.has_i3);
    assert_int_equal(d.i3, -42);
    assert_true(d.has_b && d.b);
    assert_false(d.b2);
    assert_true(d.has_r);
    assert_real_same(d.r, 0.1);
    assert_real_same(d.r2, -0.0);
    assert_true(signbit(d.r2));
    assert_true(d.has_r3);
    assert_real_same(d.r3, 1e300);
    assert_string_equal(d.d, "-12345678901234567890.0123456789");
    assert_string_equal(d.d2, "1.50");
    assert_string_equal(d.t,
                        "He said \"hi\" \\ to the caf\xC3\xA9 \xE2\x98\x83 ?\?/ */ \t\r\x7F\nend");
    assert_non_null(d.t2);
    assert_string_equal(d.t2, "");
    /* longer than one C literal may be (4095): the generator writes an array */
    assert_true(strlen(d.t3) > 4095);
    assert_true(strncmp(d.t3, "line 01: lorem ipsum", 20) == 0);
    assert_non_null(strstr(d.t3, "eiusmod         line 02: "));
    const char *last = strstr(d.t3, "line 60: ");
    assert_non_null(last);
    assert_string_equal(last, "line 60: lorem ipsum dolor sit amet, consectetur adipiscing elit, "
                              "sed do eiusmod");
    assert_true(d.has_dt);
    assert_date_same(d.dt, (dbsync_date){2024, 2, 29});
    assert_time_same(d.tm, (dbsync_time){23, 59, 59, 999999});
    assert_true(d.has_ts);
    assert_datetime_same(d.ts, (dbsync_datetime){{1, 1, 1}, {0, 0, 0, 0}});
    assert_datetime_same(d.ts2, (dbsync_datetime){{9999, 12, 31}, {23, 59, 59, 999999}});
    assert_false(d.has_none_i);
    assert_int_equal(d.none_i, 0);
    assert_null(d.none_t);
    assert_null(d.none_bl.data);
    assert_int_equal(d.none_bl.len, 0);

    /* the text defaults of _INIT are the descriptor's own objects */
    const char *const text_cols[] = {"d", "d2", "t", "t2", "t3"};
    for (size_t k = 0; k < 5; k++) {
        int ci = dbsync_table_column(t, text_cols[k]);
        assert_true(ci >= 0);
        const char *field = *(char *const *)((const char *)&d + t->columns[ci].offset);
        assert_ptr_equal(field, t->columns[ci].default_value);
    }
    assert_ptr_equal(d.t, alltypes__defaults__t__default);

    /* a row left at its defaults round-trips through the database */
    dbsync_conn *db = open_db("defaults.db");
    CHECK_RC(db, DBSYNC_OK, alltypes_defaults_insert(db, &d));
    assert_true(d.id > 0);
    alltypes_defaults got = ALLTYPES_DEFAULTS_INIT;
    CHECK_RC(db, DBSYNC_OK, alltypes_defaults_get(db, d.id, &got));
    assert_true(got.i == INT64_MIN && got.i2 == INT64_MAX && got.i3 == -42);
    assert_true(got.has_b && got.b && !got.b2);
    /* close enough: reading reals to the last bit is test_codegen__real_extremes's concern */
    assert_true(got.has_r && fabs(got.r - 0.1) < 1e-16);
    assert_true(got.has_r3 && fabs(got.r3 / 1e300 - 1) < 1e-15);
    assert_true(got.r2 == 0.0);
    assert_string_equal(got.d, d.d);
    assert_string_equal(got.d2, d.d2);
    assert_string_equal(got.t, d.t);
    assert_string_equal(got.t2, "");
    assert_string_equal(got.t3, d.t3);
    assert_date_same(got.dt, d.dt);
    assert_time_same(got.tm, d.tm);
    assert_datetime_same(got.ts, d.ts);
    assert_datetime_same(got.ts2, d.ts2);
    assert_false(got.has_none_i);
    assert_null(got.none_t);
    assert_null(got.none_bl.data);
    /* the strings read back are owned copies, not the defaults */
    assert_ptr_not_equal(got.t, alltypes__defaults__t__default);
    alltypes_defaults_clear(&got);

    /* clearing a row that still points to the defaults frees nothing (valgrind) */
    alltypes_defaults_clear(&d);
    assert_null(d.t);
    dbsync_conn_close(db);
}

static void test_codegen__update(void **state)
{
    (void)state;
    dbsync_conn *db = open_db("update.db");
    int64_t owner = add_owner(db, "bob");
    alltypes_item it = item_low();
    CHECK_RC(db, DBSYNC_OK, alltypes_item_insert(db, &it));

    /* every column changes, NULLs become values */
    alltypes_item changed = item_high(owner);
    changed.id = it.id;
    CHECK_RC(db, DBSYNC_OK, alltypes_item_update(db, &changed));
    alltypes_item got = ALLTYPES_ITEM_INIT;
    CHECK_RC(db, DBSYNC_OK, alltypes_item_get(db, it.id, &got));
    assert_item_same(&got, &changed);

    /* and back: values become NULLs */
    CHECK_RC(db, DBSYNC_OK, alltypes_item_update(db, &it));
    CHECK_RC(db, DBSYNC_OK, alltypes_item_get(db, it.id, &got));
    assert_item_same(&got, &it);
    assert_null(got.nt);

    /* an update of the row just read, through the struct the runtime filled */
    free(got.t);
    got.t = strdup("owned \xE2\x82\xAC");
    got.has_ni = true;
    got.ni = -1;
    CHECK_RC(db, DBSYNC_OK, alltypes_item_update(db, &got));
    alltypes_item again = ALLTYPES_ITEM_INIT;
    CHECK_RC(db, DBSYNC_OK, alltypes_item_get(db, it.id, &again));
    assert_item_same(&again, &got);
    alltypes_item_clear(&again);
    alltypes_item_clear(&got);

    /* no such row; a reference to a missing row */
    alltypes_item ghost = item_low();
    ghost.id = it.id + 1000;
    CHECK_RC(db, DBSYNC_ENOTFOUND, alltypes_item_update(db, &ghost));
    alltypes_item dangling = item_low();
    dangling.id = it.id;
    dangling.owner_id = owner + 1000;
    dangling.has_owner_id = true;
    CHECK_RC(db, DBSYNC_ECONFLICT, alltypes_item_update(db, &dangling));
    dbsync_conn_close(db);
}

static void test_codegen__delete_and_references(void **state)
{
    (void)state;
    dbsync_conn *db = open_db("delete.db");
    int64_t ann = add_owner(db, "ann");
    int64_t bob = add_owner(db, "bob");

    alltypes_item a = item_low(), b = item_high(ann), c = item_low();
    a.i = 1;
    a.owner_id = ann;
    a.has_owner_id = true;
    c.i = 3;
    CHECK_RC(db, DBSYNC_OK, alltypes_item_insert(db, &a));
    CHECK_RC(db, DBSYNC_OK, alltypes_item_insert(db, &b));
    CHECK_RC(db, DBSYNC_OK, alltypes_item_insert(db, &c));

    /* link.owner_id is set-null, link.item_id restrict */
    alltypes_link l = ALLTYPES_LINK_INIT;
    l.owner_id = ann;
    l.has_owner_id = true;
    l.item_id = c.id;
    l.note = (char *)"keeps c";
    CHECK_RC(db, DBSYNC_OK, alltypes_link_insert(db, &l));
    alltypes_link l2 = ALLTYPES_LINK_INIT;
    l2.owner_id = bob;
    l2.has_owner_id = true;
    l2.item_id = c.id;
    CHECK_RC(db, DBSYNC_OK, alltypes_link_insert(db, &l2));

    /* a reference to a missing row is refused on insert */
    alltypes_link bad = ALLTYPES_LINK_INIT;
    bad.item_id = c.id + 1000;
    CHECK_RC(db, DBSYNC_ECONFLICT, alltypes_link_insert(db, &bad));

    /* restrict */
    CHECK_RC(db, DBSYNC_ECONFLICT, alltypes_item_delete(db, c.id));
    alltypes_item got = ALLTYPES_ITEM_INIT;
    CHECK_RC(db, DBSYNC_OK, alltypes_item_get(db, c.id, &got));

    /* cascade (item a, b) and set-null (link l) */
    CHECK_RC(db, DBSYNC_OK, alltypes_owner_delete(db, ann));
    CHECK_RC(db, DBSYNC_ENOTFOUND, alltypes_item_get(db, a.id, &got));
    CHECK_RC(db, DBSYNC_ENOTFOUND, alltypes_item_get(db, b.id, &got));
    CHECK_RC(db, DBSYNC_OK, alltypes_item_get(db, c.id, &got));
    alltypes_link gl = ALLTYPES_LINK_INIT;
    CHECK_RC(db, DBSYNC_OK, alltypes_link_get(db, l.id, &gl));
    assert_false(gl.has_owner_id);
    assert_string_equal(gl.note, "keeps c");
    CHECK_RC(db, DBSYNC_OK, alltypes_link_get(db, l2.id, &gl));
    assert_true(gl.has_owner_id);
    assert_int_equal(gl.owner_id, bob);

    /* plain delete, twice */
    CHECK_RC(db, DBSYNC_OK, alltypes_link_delete(db, l.id));
    CHECK_RC(db, DBSYNC_OK, alltypes_link_delete(db, l2.id));
    CHECK_RC(db, DBSYNC_ENOTFOUND, alltypes_link_delete(db, l2.id));
    CHECK_RC(db, DBSYNC_OK, alltypes_item_delete(db, c.id));
    CHECK_RC(db, DBSYNC_ENOTFOUND, alltypes_item_get(db, c.id, &got));
    CHECK_RC(db, DBSYNC_ENOTFOUND, alltypes_item_delete(db, c.id));
    alltypes_item_clear(&got);
    alltypes_link_clear(&gl);
    dbsync_conn_close(db);
}

static void test_codegen__find_by_uniques(void **state)
{
    (void)state;
    dbsync_conn *db = open_db("find.db");
    int64_t ann = add_owner(db, "ann \xE2\x98\x83");
    int64_t bob = add_owner(db, "bob");

    alltypes_owner o = ALLTYPES_OWNER_INIT;
    CHECK_RC(db, DBSYNC_OK, alltypes_owner_find_by_name(db, "ann \xE2\x98\x83", &o));
    assert_int_equal(o.id, ann);
    CHECK_RC(db, DBSYNC_OK, alltypes_owner_find_by_name(db, "bob", &o)); /* o owns memory */
    assert_int_equal(o.id, bob);
    assert_string_equal(o.name, "bob");
    CHECK_RC(db, DBSYNC_ENOTFOUND, alltypes_owner_find_by_name(db, "carl", &o));
    alltypes_owner dup = ALLTYPES_OWNER_INIT;
    dup.name = (char *)"bob";
    CHECK_RC(db, DBSYNC_EEXISTS, alltypes_owner_insert(db, &dup));
    alltypes_owner_clear(&o);

    /* two columns: integer and text */
    alltypes_item a = item_low(), b = item_high(bob);
    a.t = (char *)"same text";
    b.t = (char *)"same text";
    b.i = a.i + 1;
    CHECK_RC(db, DBSYNC_OK, alltypes_item_insert(db, &a));
    CHECK_RC(db, DBSYNC_OK, alltypes_item_insert(db, &b));
    alltypes_item got = ALLTYPES_ITEM_INIT;
    CHECK_RC(db, DBSYNC_OK, alltypes_item_find_by_i_t(db, INT64_MIN, "same text", &got));
    assert_item_same(&got, &a);
    CHECK_RC(db, DBSYNC_OK, alltypes_item_find_by_i_t(db, INT64_MIN + 1, "same text", &got));
    assert_item_same(&got, &b);
    CHECK_RC(db, DBSYNC_ENOTFOUND, alltypes_item_find_by_i_t(db, INT64_MIN, "other", &got));
    alltypes_item clash = item_low();
    clash.t = (char *)"same text";
    CHECK_RC(db, DBSYNC_EEXISTS, alltypes_item_insert(db, &clash));
    alltypes_item_clear(&got);

    /* date, time, boolean; datetime and real; decimal */
    alltypes_event e1 = ALLTYPES_EVENT_INIT, e2 = ALLTYPES_EVENT_INIT;
    e1.day = (dbsync_date){2024, 2, 29};
    e1.slot = (dbsync_time){23, 59, 59, 999999};
    e1.open = true;
    e1.at = (dbsync_datetime){{1, 1, 1}, {0, 0, 0, 0}};
    e1.has_at = true;
    e1.weight = 0.1;
    e1.has_weight = true;
    e1.price = (char *)"12345678.90";
    e2.day = e1.day;
    e2.slot = e1.slot;
    e2.open = false;
    e2.at = (dbsync_datetime){{9999, 12, 31}, {23, 59, 59, 999999}};
    e2.has_at = true;
    e2.weight = -DBL_MAX;
    e2.has_weight = true;
    e2.price = (char *)"-0.01";
    CHECK_RC(db, DBSYNC_OK, alltypes_event_insert(db, &e1));
    CHECK_RC(db, DBSYNC_OK, alltypes_event_insert(db, &e2));

    alltypes_event ge = ALLTYPES_EVENT_INIT;
    CHECK_RC(db, DBSYNC_OK, alltypes_event_find_by_day_slot_open(db, e1.day, e1.slot, true, &ge));
    assert_int_equal(ge.id, e1.id);
    CHECK_RC(db, DBSYNC_OK, alltypes_event_find_by_day_slot_open(db, e1.day, e1.slot, false, &ge));
    assert_int_equal(ge.id, e2.id);
    CHECK_RC(
        db, DBSYNC_ENOTFOUND,
        alltypes_event_find_by_day_slot_open(db, (dbsync_date){2024, 3, 1}, e1.slot, true, &ge));
    CHECK_RC(db, DBSYNC_OK, alltypes_event_find_by_at_weight(db, e2.at, -DBL_MAX, &ge));
    assert_int_equal(ge.id, e2.id);
    CHECK_RC(db, DBSYNC_OK, alltypes_event_find_by_at_weight(db, e1.at, 0.1, &ge));
    assert_int_equal(ge.id, e1.id);
    assert_true(ge.has_at && ge.has_weight);
    assert_string_equal(ge.price, "12345678.90");
    CHECK_RC(db, DBSYNC_OK, alltypes_event_find_by_price(db, "-0.01", &ge));
    assert_int_equal(ge.id, e2.id);
    /* the decimal key is compared by value, not as written */
    CHECK_RC(db, DBSYNC_OK, alltypes_event_find_by_price(db, "12345678.9", &ge));
    assert_int_equal(ge.id, e1.id);
    CHECK_RC(db, DBSYNC_ENOTFOUND, alltypes_event_find_by_price(db, "1.00", &ge));
    alltypes_event_clear(&ge);
    dbsync_conn_close(db);
}

static void test_codegen__iterate(void **state)
{
    (void)state;
    dbsync_conn *db = open_db("iter.db");
    for (int k = 0; k < 10; k++) {
        alltypes_item it = item_low();
        it.i = k;
        char text[32];
        snprintf(text, sizeof text, "row %d", k);
        it.t = text;
        if (k % 2) {
            it.ni = k * 100;
            it.has_ni = true;
        }
        CHECK_RC(db, DBSYNC_OK, alltypes_item_insert(db, &it));
    }

    /* a filter, an order and a limit */
    dbsync_filter filters[] = {{"i", DBSYNC_FILTER_GE, "3"}};
    dbsync_query q = DBSYNC_QUERY_INIT;
    q.filters = filters;
    q.n_filters = 1;
    q.order_by = "i";
    q.descending = true;
    q.limit = 4;
    dbsync_iter *iter = NULL;
    CHECK_RC(db, DBSYNC_OK, alltypes_item_iter_new(&iter, db, &q));
    alltypes_item row = ALLTYPES_ITEM_INIT;
    int64_t want = 9;
    int rc;
    while ((rc = alltypes_item_iter_next(iter, &row)) == DBSYNC_OK) {
        assert_int_equal(row.i, want);
        char text[32];
        snprintf(text, sizeof text, "row %d", (int)want);
        assert_string_equal(row.t, text);
        assert_int_equal(row.bl.len, sizeof odd_bytes);
        assert_memory_equal(row.bl.data, odd_bytes, sizeof odd_bytes);
        want--;
    }
    assert_int_equal(rc, DBSYNC_ITEROVER);
    assert_int_equal(want, 5);
    dbsync_iter_free(iter);

    /* every row by primary key */
    CHECK_RC(db, DBSYNC_OK, alltypes_item_iter_new(&iter, db, NULL));
    int n = 0;
    int64_t last = 0;
    while ((rc = alltypes_item_iter_next(iter, &row)) == DBSYNC_OK) {
        assert_true(row.id > last);
        last = row.id;
        assert_int_equal(row.has_ni, row.i % 2 == 1);
        n++;
    }
    assert_int_equal(rc, DBSYNC_ITEROVER);
    assert_int_equal(n, 10);
    dbsync_iter_free(iter);

    /* NULL through a filter, and two filters */
    dbsync_filter nulls[] = {{"ni", DBSYNC_FILTER_IS_NULL, NULL}, {"i", DBSYNC_FILTER_LT, "6"}};
    dbsync_query qn = DBSYNC_QUERY_INIT;
    qn.filters = nulls;
    qn.n_filters = 2;
    CHECK_RC(db, DBSYNC_OK, alltypes_item_iter_new(&iter, db, &qn));
    n = 0;
    while ((rc = alltypes_item_iter_next(iter, &row)) == DBSYNC_OK) {
        assert_false(row.has_ni);
        assert_true(row.i % 2 == 0 && row.i < 6);
        n++;
    }
    assert_int_equal(rc, DBSYNC_ITEROVER);
    assert_int_equal(n, 3);
    dbsync_iter_free(iter);
    alltypes_item_clear(&row);

    /* an unknown column */
    dbsync_filter unknown[] = {{"nope", DBSYNC_FILTER_EQ, "1"}};
    dbsync_query qu = DBSYNC_QUERY_INIT;
    qu.filters = unknown;
    qu.n_filters = 1;
    iter = NULL;
    CHECK_RC(db, DBSYNC_EINVALID, alltypes_item_iter_new(&iter, db, &qu));
    dbsync_iter_free(iter);
    dbsync_conn_close(db);
}

static void test_codegen__clear(void **state)
{
    (void)state;
    alltypes_item it = ALLTYPES_ITEM_INIT;
    it.id = 5;
    it.d = strdup("1.5");
    it.t = strdup("text");
    it.nt = strdup("");
    it.nd = strdup("2");
    it.bl.data = malloc(3);
    it.bl.len = 3;
    memset(it.bl.data, 0xFF, 3);
    it.nbl.data = malloc(1);
    it.nbl.len = 0;
    it.has_ni = true;
    it.ni = 4;
    alltypes_item_clear(&it);
    alltypes_item zero;
    memset(&zero, 0, sizeof zero);
    assert_memory_equal(&it, &zero, sizeof it);
    alltypes_item_clear(&it); /* twice */
    alltypes_item_clear(NULL);
    alltypes_scratch s = ALLTYPES_SCRATCH_INIT;
    alltypes_scratch_clear(&s);
}

static void test_codegen__not_synced_table(void **state)
{
    (void)state;
    dbsync_conn *db = open_db("sync.db");
    dbsync_status st0, st1, st2;
    CHECK_RC(db, DBSYNC_OK, dbsync_status_get(db, &st0));
    alltypes_scratch s = ALLTYPES_SCRATCH_INIT;
    s.note = (char *)"not logged";
    CHECK_RC(db, DBSYNC_OK, alltypes_scratch_insert(db, &s));
    CHECK_RC(db, DBSYNC_OK, alltypes_scratch_update(db, &s));
    CHECK_RC(db, DBSYNC_OK, alltypes_scratch_delete(db, s.id));
    CHECK_RC(db, DBSYNC_OK, dbsync_status_get(db, &st1));
    assert_int_equal(st1.operations, st0.operations);
    add_owner(db, "logged");
    CHECK_RC(db, DBSYNC_OK, dbsync_status_get(db, &st2));
    assert_int_equal(st2.operations, st0.operations + 1);
    dbsync_conn_close(db);
}

/* The generated descriptor is the loaded schema, field by field. */
static void test_codegen__descriptor_equals_loaded(void **state)
{
    (void)state;
    dbsync_schema *loaded = NULL;
    dbsync_error err;
    memset(&err, 0, sizeof err);
    int rc = dbsync_schema_load_file(&loaded, tu_src(ALLTYPES_XML), &err);
    if (rc != DBSYNC_OK)
        fail_msg("load: %s", err.message);
    const dbsync_schema *g = &alltypes_schema;
    assert_int_equal(g->magic, DBSYNC_SCHEMA_MAGIC);
    assert_int_equal(g->magic, loaded->magic);
    assert_string_equal(g->name, loaded->name);
    assert_str_or_null(g->version, loaded->version);
    assert_string_equal(g->version, "2.1");
    assert_null(g->file);
    assert_int_equal(g->n_tables, loaded->n_tables);
    for (size_t ti = 0; ti < g->n_tables; ti++) {
        const dbsync_table *a = &g->tables[ti], *b = &loaded->tables[ti];
        assert_string_equal(a->name, b->name);
        assert_int_equal(a->flags, b->flags);
        assert_int_equal(a->n_columns, b->n_columns);
        assert_int_equal(a->primary_key, b->primary_key);
        assert_int_equal(a->line, b->line);
        assert_true(a->line > 0);
        for (size_t ci = 0; ci < a->n_columns; ci++) {
            const dbsync_column *x = &a->columns[ci], *y = &b->columns[ci];
            assert_string_equal(x->name, y->name);
            assert_int_equal(x->type, y->type);
            assert_int_equal(x->flags, y->flags);
            assert_int_equal(x->length, y->length);
            assert_int_equal(x->precision, y->precision);
            assert_int_equal(x->scale, y->scale);
            assert_str_or_null(x->default_value, y->default_value);
            assert_int_equal(x->ref_table, y->ref_table);
            assert_int_equal(x->on_delete, y->on_delete);
            assert_int_equal(x->line, y->line);
            assert_true(x->line > 0);
        }
        const dbsync_key *ka[2] = {a->uniques, a->indexes}, *kb[2] = {b->uniques, b->indexes};
        size_t na[2] = {a->n_uniques, a->n_indexes}, nb[2] = {b->n_uniques, b->n_indexes};
        for (int kind = 0; kind < 2; kind++) {
            assert_int_equal(na[kind], nb[kind]);
            if (!na[kind])
                assert_null(ka[kind]);
            for (size_t k = 0; k < na[kind]; k++) {
                assert_str_or_null(ka[kind][k].name, kb[kind][k].name);
                assert_int_equal(ka[kind][k].n_columns, kb[kind][k].n_columns);
                assert_int_equal(ka[kind][k].line, kb[kind][k].line);
                for (size_t i = 0; i < ka[kind][k].n_columns; i++)
                    assert_int_equal(ka[kind][k].columns[i], kb[kind][k].columns[i]);
            }
        }
    }
    /* what the test schema promises to cover */
    const dbsync_table *item = dbsync_schema_table(g, "item");
    assert_non_null(item);
    unsigned types = 0;
    for (size_t ci = 0; ci < item->n_columns; ci++)
        types |= 1u << item->columns[ci].type;
    for (int t = DBSYNC_TYPE_INTEGER; t <= DBSYNC_TYPE_DATETIME; t++)
        assert_true(types & (1u << t));
    assert_false(dbsync_schema_table(g, "scratch")->flags & DBSYNC_TABLE_SYNCED);
    assert_true(item->flags & DBSYNC_TABLE_SYNCED);
    const dbsync_table *link = dbsync_schema_table(g, "link");
    assert_int_equal(link->columns[1].on_delete, DBSYNC_ON_DELETE_SET_NULL);
    assert_int_equal(link->columns[2].on_delete, DBSYNC_ON_DELETE_RESTRICT);
    assert_int_equal(item->columns[dbsync_table_column(item, "owner_id")].on_delete,
                     DBSYNC_ON_DELETE_CASCADE);
    dbsync_schema_free(loaded);
}

#define ASSERT_FIELD(table, col)                                                                   \
    assert_int_equal(t->columns[dbsync_table_column(t, #col)].offset, offsetof(table, col))
#define ASSERT_HAS(table, col)                                                                     \
    assert_int_equal(t->columns[dbsync_table_column(t, #col)].has_offset,                          \
                     offsetof(table, has_##col))
#define ASSERT_NO_HAS(col)                                                                         \
    assert_true(t->columns[dbsync_table_column(t, #col)].has_offset == DBSYNC_NO_OFFSET)

static void test_codegen__layout(void **state)
{
    (void)state;
    const dbsync_table *t = alltypes_item_table();
    assert_ptr_equal(t, &alltypes_schema.tables[1]);
    assert_ptr_equal(alltypes_owner_table(), &alltypes_schema.tables[0]);
    assert_ptr_equal(alltypes_scratch_table(), &alltypes_schema.tables[5]);
    assert_string_equal(t->name, "item");
    assert_int_equal(t->struct_size, sizeof(alltypes_item));
    ASSERT_FIELD(alltypes_item, id);
    ASSERT_FIELD(alltypes_item, i);
    ASSERT_FIELD(alltypes_item, b);
    ASSERT_FIELD(alltypes_item, r);
    ASSERT_FIELD(alltypes_item, d);
    ASSERT_FIELD(alltypes_item, t);
    ASSERT_FIELD(alltypes_item, bl);
    ASSERT_FIELD(alltypes_item, dt);
    ASSERT_FIELD(alltypes_item, tm);
    ASSERT_FIELD(alltypes_item, ts);
    ASSERT_FIELD(alltypes_item, ni);
    ASSERT_FIELD(alltypes_item, nb);
    ASSERT_FIELD(alltypes_item, nr);
    ASSERT_FIELD(alltypes_item, nd);
    ASSERT_FIELD(alltypes_item, nt);
    ASSERT_FIELD(alltypes_item, nbl);
    ASSERT_FIELD(alltypes_item, ndt);
    ASSERT_FIELD(alltypes_item, ntm);
    ASSERT_FIELD(alltypes_item, nts);
    ASSERT_FIELD(alltypes_item, owner_id);
    ASSERT_HAS(alltypes_item, ni);
    ASSERT_HAS(alltypes_item, nb);
    ASSERT_HAS(alltypes_item, nr);
    ASSERT_HAS(alltypes_item, ndt);
    ASSERT_HAS(alltypes_item, ntm);
    ASSERT_HAS(alltypes_item, nts);
    ASSERT_HAS(alltypes_item, owner_id);
    ASSERT_NO_HAS(id);
    ASSERT_NO_HAS(i);
    ASSERT_NO_HAS(ts);
    ASSERT_NO_HAS(nd);
    ASSERT_NO_HAS(nt);
    ASSERT_NO_HAS(nbl);
    /* field types, by size and by what assigning them needs */
    assert_int_equal(sizeof(((alltypes_item *)0)->d), sizeof(char *));
    assert_int_equal(sizeof(((alltypes_item *)0)->bl), sizeof(dbsync_blob));
    assert_int_equal(sizeof(((alltypes_item *)0)->has_ni), sizeof(bool));
    for (size_t ti = 0; ti < alltypes_schema.n_tables; ti++)
        assert_true(alltypes_schema.tables[ti].struct_size > 0);
    t = alltypes_defaults_table();
    assert_int_equal(t->struct_size, sizeof(alltypes_defaults));
    ASSERT_FIELD(alltypes_defaults, none_bl);
    ASSERT_HAS(alltypes_defaults, dt);
    ASSERT_NO_HAS(tm);
    ASSERT_NO_HAS(t);
}

/* ---- the program ---- */

static void test_codegen__program_arguments(void **state)
{
    (void)state;
    char out[4096], err[4096];
    const char *help[] = {CODEGEN, "--help", NULL};
    assert_int_equal(run(help, NULL, out, sizeof out, err, sizeof err), 0);
    assert_non_null(strstr(out, "Usage: dbsync-codegen [-o DIR] SCHEMA.xml"));
    assert_string_equal(err, "");
    const char *h[] = {CODEGEN, "-h", NULL};
    assert_int_equal(run(h, NULL, out, sizeof out, err, sizeof err), 0);
    assert_non_null(strstr(out, "Usage:"));
    const char *version[] = {CODEGEN, "--version", NULL};
    assert_int_equal(run(version, NULL, out, sizeof out, err, sizeof err), 0);
    char want[64];
    snprintf(want, sizeof want, "dbsync-codegen %d.%d.%d\n", DBSYNC_VERSION_MAJOR,
             DBSYNC_VERSION_MINOR, DBSYNC_VERSION_PATCH);
    assert_string_equal(out, want);

    const char *const *bad[] = {
        (const char *[]){CODEGEN, NULL},
        (const char *[]){CODEGEN, "-x", tu_src(ALLTYPES_XML), NULL},
        (const char *[]){CODEGEN, "--frobnicate", NULL},
        (const char *[]){CODEGEN, "-o", NULL},
        (const char *[]){CODEGEN, "a.xml", "b.xml", NULL},
        (const char *[]){CODEGEN, "-o", "", tu_src(ALLTYPES_XML), NULL},
    };
    const char *const words[] = {
        "no schema file",    "unknown option \"-x\"", "unknown option \"--frobnicate\"",
        "-o needs a folder", "one schema file only",  "output folder is empty"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        assert_int_equal(run(bad[k], NULL, out, sizeof out, err, sizeof err), 1);
        assert_string_equal(out, "");
        assert_one_error_line(err);
        if (!strstr(err, words[k]))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", k, err, words[k]);
    }
}

static void test_codegen__program_missing_and_bad_schema(void **state)
{
    (void)state;
    char out[4096], err[4096], dir[1200];
    snprintf(dir, sizeof dir, "%s/bad-out", tmp);

    const char *missing[] = {CODEGEN, "-o", dir, "/nonexistent/schema.xml", NULL};
    assert_int_equal(run(missing, NULL, out, sizeof out, err, sizeof err), 1);
    assert_one_error_line(err);
    assert_non_null(strstr(err, "/nonexistent/schema.xml"));
    assert_false(exists(dir));

    /* a schema error: the loader's message with file and line */
    char xml[1200];
    snprintf(xml, sizeof xml, "%s/bad.xml", tmp);
    FILE *f = fopen(xml, "w");
    assert_non_null(f);
    fputs("<?xml version=\"1.0\"?>\n<schema name=\"bad\">\n  <table name=\"t\">\n"
          "    <column name=\"id\" type=\"integer\" primary-key=\"true\"/>\n"
          "    <column name=\"price\" type=\"money\"/>\n  </table>\n</schema>\n",
          f);
    fclose(f);
    const char *bad[] = {CODEGEN, "-o", dir, xml, NULL};
    assert_int_equal(run(bad, NULL, out, sizeof out, err, sizeof err), 1);
    assert_one_error_line(err);
    char want[1300];
    snprintf(want, sizeof want, "dbsync-codegen: %s:5: ", xml);
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("got \"%s\", want it to start with \"%s\"", err, want);
    assert_non_null(strstr(err, "money"));
    assert_false(exists(dir)); /* nothing written, not even the folder */

    /* not XML at all */
    f = fopen(xml, "w");
    fputs("<schema name=\"bad\">\n<table>\n", f);
    fclose(f);
    assert_int_equal(run(bad, NULL, out, sizeof out, err, sizeof err), 1);
    assert_one_error_line(err);
    snprintf(want, sizeof want, "dbsync-codegen: %s:", xml);
    assert_true(strncmp(err, want, strlen(want)) == 0);
    assert_false(exists(dir));
}

static void test_codegen__program_output(void **state)
{
    (void)state;
    char out[4096], err[4096], dir[1200], path[1300];

    /* -o into a folder that does not exist yet, two levels deep */
    snprintf(dir, sizeof dir, "%s/new/deeper", tmp);
    const char *gen[] = {CODEGEN, "-o", dir, tu_src(ALLTYPES_XML), NULL};
    assert_int_equal(run(gen, NULL, out, sizeof out, err, sizeof err), 0);
    assert_string_equal(err, "");
    assert_string_equal(out, "");
    assert_int_equal(count_entries(dir), 2);
    snprintf(path, sizeof path, "%s/alltypes.h", dir);
    char *h1 = read_file(path);
    assert_non_null(h1);
    assert_non_null(strstr(h1, "Generated by dbsync-codegen from "));
    assert_non_null(strstr(h1, "do not edit"));
    assert_non_null(strstr(h1, "#include <dbsync/dbsync.h>"));
    assert_non_null(strstr(h1, "#if DBSYNC_VERSION_NUMBER <"));
    assert_null(strstr(h1, "SPDX"));
    snprintf(path, sizeof path, "%s/alltypes.c", dir);
    char *c1 = read_file(path);
    assert_non_null(c1);
    assert_non_null(strstr(c1, "#include \"alltypes.h\""));
    assert_null(strstr(c1, "SELECT"));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_mode & S_IRUSR);

    /* the same input gives the same output; existing files are replaced */
    FILE *f = fopen(path, "w");
    fputs("stale", f);
    fclose(f);
    assert_int_equal(run(gen, NULL, out, sizeof out, err, sizeof err), 0);
    char *c2 = read_file(path);
    assert_string_equal(c1, c2);
    free(c2);
    assert_int_equal(count_entries(dir), 2);

    /* --output=DIR and -oDIR */
    char opt[1300];
    snprintf(dir, sizeof dir, "%s/eq", tmp);
    snprintf(opt, sizeof opt, "--output=%s", dir);
    const char *eq[] = {CODEGEN, opt, tu_src(ALLTYPES_XML), NULL};
    assert_int_equal(run(eq, NULL, out, sizeof out, err, sizeof err), 0);
    assert_int_equal(count_entries(dir), 2);
    snprintf(dir, sizeof dir, "%s/glued", tmp);
    snprintf(opt, sizeof opt, "-o%s", dir);
    const char *glued[] = {CODEGEN, opt, "--", tu_src(ALLTYPES_XML), NULL};
    assert_int_equal(run(glued, NULL, out, sizeof out, err, sizeof err), 0);
    assert_int_equal(count_entries(dir), 2);

    /* no -o: the current folder */
    snprintf(dir, sizeof dir, "%s/cwd", tmp);
    mkdir(dir, 0777);
    const char *here[] = {CODEGEN, tu_src(ALLTYPES_XML), NULL};
    assert_int_equal(run(here, dir, out, sizeof out, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/alltypes.h", dir);
    char *h2 = read_file(path);
    assert_string_equal(h1, h2);
    free(h2);
    free(h1);
    free(c1);

    /* cannot write: the target is a folder; nothing else is left behind */
    snprintf(dir, sizeof dir, "%s/blocked", tmp);
    mkdir(dir, 0777);
    snprintf(path, sizeof path, "%s/alltypes.c", dir);
    mkdir(path, 0777);
    const char *blocked[] = {CODEGEN, "-o", dir, tu_src(ALLTYPES_XML), NULL};
    assert_int_equal(run(blocked, NULL, out, sizeof out, err, sizeof err), 1);
    assert_one_error_line(err);
    assert_non_null(strstr(err, path));
    assert_int_equal(count_entries(dir), 1);

    /* cannot write: the output folder is a file */
    snprintf(dir, sizeof dir, "%s/plainfile", tmp);
    f = fopen(dir, "w");
    fclose(f);
    const char *onfile[] = {CODEGEN, "-o", dir, tu_src(ALLTYPES_XML), NULL};
    assert_int_equal(run(onfile, NULL, out, sizeof out, err, sizeof err), 1);
    assert_one_error_line(err);
    assert_non_null(strstr(err, "not a folder"));
}

/* Replaces every "@SCHEMA@" of @p text by @p path (static buffer). */
static const char *substitute(const char *text, const char *path)
{
    static char buf[8192];
    size_t n = 0;
    for (const char *p = text; *p && n + 1300 < sizeof buf;) {
        if (!strncmp(p, "@SCHEMA@", 8)) {
            n += (size_t)snprintf(buf + n, sizeof buf - n, "%s", path);
            p += 8;
        } else {
            buf[n++] = *p++;
        }
    }
    buf[n] = '\0';
    return buf;
}

/* Compiles @p file with the flags generated code promises; skips when no
 * compiler is at hand. Returns the compiler's exit status. */
static int compile_strict(const char *file, const char *incdir, char *err, size_t errsize)
{
    char out[4096], obj[2048], inc1[2048], inc2[2048];
    snprintf(obj, sizeof obj, "%s.o", file);
    snprintf(inc1, sizeof inc1, "-I%s", tu_src("include"));
    snprintf(inc2, sizeof inc2, "-I%s", incdir);
    const char *cc[] = {"/usr/bin/cc", "-std=c11", "-Wall", "-Wextra", "-pedantic", "-Werror", inc1,
                        inc2,          "-c",       file,    "-o",      obj,         NULL};
    if (access(cc[0], X_OK) != 0)
        return -1;
    return run(cc, NULL, out, sizeof out, err, errsize);
}

/* Every folder of tests/codegen: with an "error" file the program must fail
 * with exactly that line (@SCHEMA@ stands for the schema's path); without,
 * the generated code must compile with -std=c11 -pedantic -Werror. */
static void test_codegen__golden_cases(void **state)
{
    (void)state;
    const char *root = tu_src("tests/codegen");
    DIR *d = opendir(root);
    assert_non_null(d);
    struct dirent *e;
    int n_cases = 0, n_errors = 0, n_compiled = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char xml[1300], expected[1300], outdir[1300], out[4096], err[8192];
        snprintf(xml, sizeof xml, "%s/%s/schema.xml", root, e->d_name);
        if (!exists(xml))
            continue;
        n_cases++;
        snprintf(expected, sizeof expected, "%s/%s/error", root, e->d_name);
        snprintf(outdir, sizeof outdir, "%s/golden-%s", tmp, e->d_name);
        const char *argv[] = {CODEGEN, "-o", outdir, xml, NULL};
        int status = run(argv, NULL, out, sizeof out, err, sizeof err);
        char *want = read_file(expected);
        if (want) {
            n_errors++;
            if (status != 1 || strcmp(err, substitute(want, xml)) != 0)
                fail_msg("case %s: exit %d, stderr \"%s\", want \"%s\"", e->d_name, status, err,
                         substitute(want, xml));
            assert_false(exists(outdir));
            free(want);
            continue;
        }
        if (status != 0)
            fail_msg("case %s: exit %d: %s", e->d_name, status, err);
        /* the name of the output is the schema's, whatever the folder */
        DIR *od = opendir(outdir);
        assert_non_null(od);
        struct dirent *oe;
        while ((oe = readdir(od))) {
            size_t l = strlen(oe->d_name);
            if (l < 3 || strcmp(oe->d_name + l - 2, ".c"))
                continue;
            char src[1600];
            snprintf(src, sizeof src, "%s/%s", outdir, oe->d_name);
            int rc = compile_strict(src, outdir, err, sizeof err);
            if (rc < 0)
                continue;
            if (rc != 0)
                fail_msg("case %s: %s does not compile: %s", e->d_name, oe->d_name, err);
            n_compiled++;
        }
        closedir(od);
    }
    closedir(d);
    assert_true(n_cases >= 2);
    assert_true(n_errors >= 1);
    if (access("/usr/bin/cc", X_OK) == 0)
        assert_true(n_compiled >= 2); /* alltypes and tricky at least */
}

int main(void)
{
    tmp = tu_tmpdir("test_codegen");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_codegen__insert_get_every_type),
        cmocka_unit_test(test_codegen__real_extremes),
        cmocka_unit_test(test_codegen__nulls_and_has_flags),
        cmocka_unit_test(test_codegen__init_defaults),
        cmocka_unit_test(test_codegen__update),
        cmocka_unit_test(test_codegen__delete_and_references),
        cmocka_unit_test(test_codegen__find_by_uniques),
        cmocka_unit_test(test_codegen__iterate),
        cmocka_unit_test(test_codegen__clear),
        cmocka_unit_test(test_codegen__not_synced_table),
        cmocka_unit_test(test_codegen__descriptor_equals_loaded),
        cmocka_unit_test(test_codegen__layout),
        cmocka_unit_test(test_codegen__program_arguments),
        cmocka_unit_test(test_codegen__program_missing_and_bad_schema),
        cmocka_unit_test(test_codegen__program_output),
        cmocka_unit_test(test_codegen__golden_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
