/* SPDX-License-Identifier: MIT */
/*
 * Values: the text form of every type, parsed and formatted back, checks
 * against columns, and the refusals with their messages.
 */
#include "testutil.h"

#include <float.h>
#include <locale.h>
#include <math.h>

#include "internal.h"

static dbsync_column col(dbsync_type t, unsigned flags)
{
    dbsync_column c;
    memset(&c, 0, sizeof c);
    c.name = "c";
    c.type = t;
    c.flags = flags;
    c.ref_table = -1;
    c.has_offset = DBSYNC_NO_OFFSET;
    return c;
}

/* Parses text for the column, formats it back, compares with expected. */
static void roundtrip(const dbsync_column *c, const char *text, const char *expected)
{
    dbsync_value v;
    dbsync_error err;
    memset(&err, 0, sizeof err);
    int rc = dbsync_value_parse(&v, NULL, c, text, &err);
    if (rc)
        fail_msg("parse \"%s\": %s", text, err.message);
    char *out = NULL;
    assert_int_equal(dbsync_value_format(&out, &v), DBSYNC_OK);
    assert_non_null(out);
    assert_string_equal(out, expected);
    free(out);
    dbsync_value_clear(&v);
}

static void refused(const dbsync_column *c, const char *text, const char *fragment)
{
    dbsync_value v;
    dbsync_error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(dbsync_value_parse(&v, NULL, c, text, &err), DBSYNC_EINVALID);
    if (!strstr(err.message, fragment))
        fail_msg("\"%s\": message \"%s\" lacks \"%s\"", text, err.message, fragment);
    assert_int_equal(err.code, DBSYNC_EINVALID);
}

static void test_value__integer(void **state)
{
    (void)state;
    dbsync_column c = col(DBSYNC_TYPE_INTEGER, 0);
    roundtrip(&c, "0", "0");
    roundtrip(&c, "-42", "-42");
    roundtrip(&c, "9223372036854775807", "9223372036854775807");
    roundtrip(&c, "-9223372036854775808", "-9223372036854775808");
    refused(&c, "9223372036854775808", "not a 64-bit integer");
    refused(&c, "12x", "not a 64-bit integer");
    refused(&c, "", "not a 64-bit integer");
    refused(&c, " 1", "not a 64-bit integer");
    refused(&c, "1.0", "not a 64-bit integer");
}

static void test_value__boolean(void **state)
{
    (void)state;
    dbsync_column c = col(DBSYNC_TYPE_BOOLEAN, 0);
    roundtrip(&c, "true", "true");
    roundtrip(&c, "1", "true");
    roundtrip(&c, "false", "false");
    roundtrip(&c, "0", "false");
    refused(&c, "yes", "not a boolean");
    refused(&c, "TRUE ", "not a boolean");
}

static void test_value__real(void **state)
{
    (void)state;
    dbsync_column c = col(DBSYNC_TYPE_REAL, 0);
    roundtrip(&c, "0.1", "0.10000000000000001");
    roundtrip(&c, "-0", "-0");
    roundtrip(&c, "1e308", "1e+308");
    roundtrip(&c, "2.5", "2.5");
    refused(&c, "nan", "not a finite real");
    refused(&c, "inf", "not a finite real");
    refused(&c, "1e999", "not a finite real");
    refused(&c, "0x", "not a finite real");
    /* The printed form reads back to the same double. */
    double samples[] = {DBL_MAX, DBL_MIN, -DBL_MAX, 1.0 / 3, 0.1 + 0.2, 5e-324};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        dbsync_value v = {.type = DBSYNC_TYPE_REAL, .is_null = false, .u.r = samples[i]};
        char *s;
        assert_int_equal(dbsync_value_format(&s, &v), DBSYNC_OK);
        dbsync_value back;
        assert_int_equal(dbsync_value_parse(&back, NULL, &c, s, NULL), DBSYNC_OK);
        assert_true(back.u.r == samples[i]);
        free(s);
    }
}

static void test_value__decimal(void **state)
{
    (void)state;
    dbsync_column c = col(DBSYNC_TYPE_DECIMAL, 0);
    c.precision = 12;
    c.scale = 2;
    roundtrip(&c, "1.5", "1.50");
    roundtrip(&c, "-1.5", "-1.50");
    roundtrip(&c, "0", "0.00");
    roundtrip(&c, "-0.00", "0.00");
    roundtrip(&c, "007.10", "7.10");
    roundtrip(&c, ".5", "0.50");
    roundtrip(&c, "+3", "3.00");
    roundtrip(&c, "1.500", "1.50");
    roundtrip(&c, "9999999999.99", "9999999999.99");
    refused(&c, "1.234", "3 digits after the point, at most 2");
    refused(&c, "12345678901.5", "11 digits before the point, at most 10");
    refused(&c, "1e5", "not a decimal number");
    refused(&c, "", "not a decimal number");
    refused(&c, "-", "not a decimal number");
    refused(&c, "1.2.3", "not a decimal number");
    dbsync_column wide = col(DBSYNC_TYPE_DECIMAL, 0);
    wide.precision = 40;
    wide.scale = 10;
    roundtrip(&wide, "123456789012345678901234567890.0123456789",
              "123456789012345678901234567890.0123456789");
    roundtrip(&wide, "-999999999999999999999999999999", "-999999999999999999999999999999.0000000000");
    dbsync_column whole = col(DBSYNC_TYPE_DECIMAL, 0);
    whole.precision = 5;
    roundtrip(&whole, "12345", "12345");
    refused(&whole, "1.5", "1 digits after the point, at most 0");
}

static void test_value__text(void **state)
{
    (void)state;
    dbsync_column c = col(DBSYNC_TYPE_TEXT, 0);
    roundtrip(&c, "", "");
    roundtrip(&c, "'; DROP TABLE x; --", "'; DROP TABLE x; --");
    c.length = 3;
    roundtrip(&c, "\xc3\xa9\xc3\xa9\xc3\xa9", "\xc3\xa9\xc3\xa9\xc3\xa9"); /* 3 characters, 6 bytes */
    refused(&c, "abcd", "text of 4 characters, at most 3");
}

static void test_value__blob(void **state)
{
    (void)state;
    dbsync_column c = col(DBSYNC_TYPE_BLOB, 0);
    roundtrip(&c, "00ff41", "00ff41");
    roundtrip(&c, "00FF", "00ff");
    roundtrip(&c, "\\x0a", "0a");
    roundtrip(&c, "", "");
    refused(&c, "abc", "even number of hexadecimal digits");
    refused(&c, "zz", "even number of hexadecimal digits");
    dbsync_value v;
    assert_int_equal(dbsync_value_parse(&v, NULL, &c, "", NULL), DBSYNC_OK);
    assert_non_null(v.u.blob.data); /* empty, not NULL */
    assert_int_equal(v.u.blob.len, 0);
    dbsync_value_clear(&v);
}

static void test_value__dates(void **state)
{
    (void)state;
    dbsync_column d = col(DBSYNC_TYPE_DATE, 0), t = col(DBSYNC_TYPE_TIME, 0),
                  dt = col(DBSYNC_TYPE_DATETIME, 0);
    roundtrip(&d, "0001-01-01", "0001-01-01");
    roundtrip(&d, "9999-12-31", "9999-12-31");
    roundtrip(&d, "2024-02-29", "2024-02-29");
    roundtrip(&d, "2000-02-29", "2000-02-29");
    refused(&d, "1900-02-29", "not a valid date");
    refused(&d, "2023-02-29", "not a valid date");
    refused(&d, "2023-04-31", "not a valid date");
    refused(&d, "2023-13-01", "not a valid date");
    refused(&d, "0000-01-01", "not a valid date");
    refused(&d, "2023-1-01", "not a valid date");
    refused(&d, "2023-01-01x", "not a valid date");
    roundtrip(&t, "00:00:00", "00:00:00");
    roundtrip(&t, "23:59:59.999999", "23:59:59.999999");
    roundtrip(&t, "12:00:00.5", "12:00:00.500000");
    roundtrip(&t, "12:00:00.000000", "12:00:00");
    refused(&t, "24:00:00", "not a valid time");
    refused(&t, "12:60:00", "not a valid time");
    refused(&t, "12:00:00.1234567", "not a valid time");
    refused(&t, "12:00:00.", "not a valid time");
    roundtrip(&dt, "2024-02-29 23:59:59.000001", "2024-02-29 23:59:59.000001");
    roundtrip(&dt, "2024-02-29T01:02:03", "2024-02-29 01:02:03");
    refused(&dt, "2024-02-29", "not a valid datetime");
    refused(&dt, "2024-02-30 00:00:00", "not a valid datetime");
}

static void test_value__check(void **state)
{
    (void)state;
    dbsync_table table;
    memset(&table, 0, sizeof table);
    table.name = "item";
    dbsync_column c = col(DBSYNC_TYPE_TEXT, 0);
    dbsync_value v = {.type = DBSYNC_TYPE_TEXT, .is_null = true};
    dbsync_error err;
    assert_int_equal(dbsync_value_check(&v, &table, &c, &err), DBSYNC_EINVALID);
    assert_non_null(strstr(err.message, "column item.c: NULL is not allowed"));
    c.flags = DBSYNC_COLUMN_NULLABLE;
    assert_int_equal(dbsync_value_check(&v, &table, &c, &err), DBSYNC_OK);
    dbsync_value r = {.type = DBSYNC_TYPE_REAL, .u.r = NAN};
    dbsync_column rc = col(DBSYNC_TYPE_REAL, 0);
    assert_int_equal(dbsync_value_check(&r, &table, &rc, &err), DBSYNC_EINVALID);
    assert_int_equal(dbsync_value_check(&r, &table, &c, &err), DBSYNC_EINVALID);
    assert_non_null(strstr(err.message, "value of type real given for a column of type text"));
    dbsync_value bad = {.type = DBSYNC_TYPE_DATE, .u.date = {2023, 2, 29}};
    dbsync_column dc = col(DBSYNC_TYPE_DATE, 0);
    assert_int_equal(dbsync_value_check(&bad, &table, &dc, &err), DBSYNC_EINVALID);
    char *s;
    assert_int_equal(dbsync_value_format(&s, &bad), DBSYNC_EINVALID);
}

/* Reals are read and written in the C locale whatever the application's
 * locale (tests/locale.sh runs this with a comma-decimal locale built). */
static void test_value__locale(void **state)
{
    (void)state;
    const char *locales[] = {"de_DE.UTF-8", "fr_FR.UTF-8", "de_DE", "fr_FR"};
    const char *set = NULL;
    for (size_t i = 0; i < sizeof locales / sizeof locales[0] && !set; i++)
        set = setlocale(LC_ALL, locales[i]);
    if (!set) {
        if (getenv("DBSYNC_TEST_LOCALE_REQUIRED"))
            fail_msg("no comma-decimal locale could be set");
        skip();
    }
    char probe[16];
    snprintf(probe, sizeof probe, "%.1f", 0.5);
    assert_string_equal(probe, "0,5"); /* the locale really is in effect */
    dbsync_column c = col(DBSYNC_TYPE_REAL, 0);
    dbsync_value v;
    int rc = dbsync_value_parse(&v, NULL, &c, "2.5", NULL);
    char *out = NULL;
    if (!rc)
        rc = dbsync_value_format(&out, &v);
    setlocale(LC_ALL, "C");
    assert_int_equal(rc, DBSYNC_OK);
    assert_true(v.u.r == 2.5);
    assert_string_equal(out, "2.5");
    free(out);
}

static void test_value__copy_equal(void **state)
{
    (void)state;
    unsigned char bytes[] = {0, 0xff, 'a', 0};
    dbsync_value b = {.type = DBSYNC_TYPE_BLOB, .u.blob = {bytes, sizeof bytes}};
    dbsync_value copy;
    assert_int_equal(dbsync_value_copy(&copy, &b), DBSYNC_OK);
    assert_ptr_not_equal(copy.u.blob.data, bytes);
    assert_true(dbsync_value_equal(&copy, &b));
    copy.u.blob.data[3] = 1;
    assert_false(dbsync_value_equal(&copy, &b));
    dbsync_value_clear(&copy);
    assert_true(copy.is_null);
    dbsync_value n1 = {.type = DBSYNC_TYPE_TEXT, .is_null = true};
    dbsync_value n2 = {.type = DBSYNC_TYPE_TEXT, .is_null = true};
    assert_true(dbsync_value_equal(&n1, &n2));
    dbsync_value e = {.type = DBSYNC_TYPE_TEXT, .u.s = (char *)""};
    assert_false(dbsync_value_equal(&n1, &e));
}

static void test_value__hex_and_ints(void **state)
{
    (void)state;
    unsigned char in[] = {0x00, 0x7f, 0x80, 0xff};
    char hex[9];
    dbsync__hex_encode(hex, in, 4);
    assert_string_equal(hex, "007f80ff");
    unsigned char out[4];
    assert_int_equal(dbsync__hex_decode(out, "007F80FF", 8), 4);
    assert_memory_equal(out, in, 4);
    assert_int_equal(dbsync__hex_decode(out, "0g", 2), -1);
    int64_t v;
    assert_int_equal(dbsync__parse_int64("-9223372036854775808", &v), 0);
    assert_true(v == INT64_MIN);
    assert_int_equal(dbsync__parse_int64("", &v), -1);
    assert_true(dbsync__is_identifier("a_1"));
    assert_false(dbsync__is_identifier("1a"));
    assert_false(dbsync__is_identifier("a-b"));
    assert_false(dbsync__is_identifier(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_value__integer),   cmocka_unit_test(test_value__boolean),
        cmocka_unit_test(test_value__real),      cmocka_unit_test(test_value__decimal),
        cmocka_unit_test(test_value__text),      cmocka_unit_test(test_value__blob),
        cmocka_unit_test(test_value__dates),     cmocka_unit_test(test_value__check),
        cmocka_unit_test(test_value__copy_equal), cmocka_unit_test(test_value__hex_and_ints),
        cmocka_unit_test(test_value__locale),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
