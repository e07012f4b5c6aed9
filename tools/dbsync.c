/* SPDX-License-Identifier: MIT */
/*
 * dbsync, the command-line tool: reads the options, checks every argument of
 * the command against the schema, then runs the command through the public
 * API and prints its result (formats in doc/cli.md).
 *
 * The sync commands (register, push, pull, sync, repair) are one call each
 * of the client procedures of <dbsync/sync.h>; the line they print comes
 * from the node's status read before and after the call.
 *
 * Invariants: all arguments and options are parsed and checked before the
 * database is opened, so a command with any bad argument never writes; each
 * write and each sync procedure is a single runtime call, which is
 * transactional. Every failure prints exactly one line "dbsync: ..." on
 * stderr (control characters in it escaped) and exits 1 (bad input, missing
 * row, database failure), 2 (usage), 3 (server unreachable: retry later),
 * 4 (push refused: the server is ahead) or 5 (a conflict to resolve). The
 * progress line of the sync commands is drawn only when stderr is a
 * terminal, and is erased before anything else is printed.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <dbsync/dbsync.h>

#include "options.h"

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_OFFLINE 3  /* DBSYNC_ENET: the server cannot be reached, retry later */
#define EXIT_STALE 4    /* DBSYNC_EPULLREQUIRED: the server is ahead, pull first */
#define EXIT_CONFLICT 5 /* DBSYNC_ECONFLICT: a conflict the application must resolve */

/* Bounds of --timeout (seconds; the milliseconds must fit a 32-bit long) and --page-size. */
#define TIMEOUT_MAX_S 2147483L
#define PAGE_SIZE_MAX 1000000L

/* How many bytes of a user-given string a message quotes before cutting it. */
#define SHOWN_MAX 80

/* The state of one run. */
typedef struct cli {
    const char *db_url;
    const char *schema_path;
    const char *token;          /* --token, register only */
    const char *timeout_text;   /* --timeout, sync commands only */
    const char *page_size_text; /* --page-size, sync commands only */
    long timeout_ms;            /* parsed --timeout; 0: the library's default */
    long page_size;             /* parsed --page-size; 0: the library's default */
    dbsync_schema *schema;
    dbsync_conn *conn;
} cli;

/* One col=value argument, checked against the table. */
typedef struct assignment {
    int column;       /* index in the table */
    const char *text; /* the value's text form; NULL for SQL NULL */
} assignment;

typedef int (*command_fn)(cli *c, int argc, char **argv);

typedef struct command {
    const char *name;
    int min_args; /* arguments after the command name */
    int max_args; /* -1: no limit */
    command_fn run;
    const char *synopsis;
    bool remote; /* talks to a server: takes --timeout and --page-size */
} command;

/* ---- messages ---- */

/* Writes msg with control characters escaped, so that it stays one line. */
static void put_message(FILE *f, const char *msg)
{
    for (const unsigned char *p = (const unsigned char *)msg; *p; p++) {
        if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p == '\r')
            fputs("\\r", f);
        else if (*p < 0x20 || *p == 0x7f)
            fprintf(f, "\\x%02x", *p);
        else
            fputc(*p, f);
    }
}

/* Prints "dbsync: MESSAGE" on stderr and returns status. */
static int fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(int status, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fputs("dbsync: ", stderr);
    put_message(stderr, msg);
    fputc('\n', stderr);
    return status;
}

/*
 * A user-given string as a message quotes it: at most SHOWN_MAX bytes, cut
 * on a UTF-8 character boundary and marked with "...". The result lives until
 * four more calls.
 */
static const char *shown(const char *s)
{
    static char bufs[4][SHOWN_MAX + 4];
    static unsigned next;
    size_t n = strlen(s);
    if (n <= SHOWN_MAX)
        return s;
    char *b = bufs[next++ % 4];
    size_t cut = SHOWN_MAX - 3;
    while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
        cut--;
    memcpy(b, s, cut);
    memcpy(b + cut, "...", 4);
    return b;
}

/* The text of a library error, never empty. */
static const char *error_text(const dbsync_error *err, int code)
{
    return err && err->message[0] ? err->message : dbsync_strerror(code);
}

/* The last error of the connection, never empty. */
static const char *conn_text(const cli *c, int code)
{
    return error_text(dbsync_conn_error(c->conn), code);
}

/*
 * A failed runtime call of the command whose messages start with prefix
 * ("update customer 7"). The runtime often names the operation itself in the
 * same words; it is then not repeated.
 */
static int op_fail(const cli *c, const char *prefix, int code)
{
    const char *msg = conn_text(c, code);
    size_t n = strlen(prefix);
    if (strncmp(msg, prefix, n) == 0 && msg[n] == ':')
        return fail(EXIT_FAIL, "%s", msg);
    return fail(EXIT_FAIL, "%s: %s", prefix, msg);
}

/*
 * value.c words a column's error "column NAME: detail" when given no table;
 * the tool names the table in its own prefix and quotes the column name.
 */
static int column_fail(const char *prefix, const dbsync_column *col, const dbsync_error *err,
                       int code)
{
    const char *msg = error_text(err, code);
    char head[128];
    snprintf(head, sizeof head, "column %s: ", col->name);
    size_t n = strlen(head);
    if (strncmp(msg, head, n) == 0)
        return fail(EXIT_FAIL, "%s: column \"%s\": %s", prefix, col->name, msg + n);
    return fail(EXIT_FAIL, "%s: %s", prefix, msg);
}

/* ---- usage ---- */

static const char usage_text[] =
    "usage: dbsync --db URL --schema SCHEMA.xml [OPTIONS] COMMAND [ARGS...]\n"
    "       dbsync -h | --help | --version\n"
    "\n"
    "Options (before the command; --opt=VALUE also works):\n"
    "  --db URL          database: sqlite3:PATH, pgsql://user:pass@host:port/dbname,\n"
    "                    mysql://user:pass@host:port/dbname, optional ?key=value&...\n"
    "  --schema FILE     the XML schema file of the database\n"
    "  --token TOKEN     register: the server's registration token\n"
    "  --timeout SECONDS sync commands: limit of each request to the server\n"
    "                    (default 60; decimals allowed, e.g. 2.5)\n"
    "  --page-size N     pull, sync, repair: rows asked per page (default 1000)\n"
    "  -h, --help        print this help and exit\n"
    "  --version         print the version and exit\n"
    "\n"
    "Commands:\n"
    "  init                   create the tables (existing ones are kept)\n"
    "  insert TABLE [col=value...]\n"
    "                         insert a row, the other columns get their default;\n"
    "                         prints the new row's primary key\n"
    "  update TABLE ID col=value...\n"
    "                         change only the given columns of row ID\n"
    "  delete TABLE ID        delete row ID (and what references it, per on-delete)\n"
    "  get TABLE ID           print row ID, one col=value line per column\n"
    "  list TABLE [col=value...]\n"
    "                         print the rows equal to every col=value given (\\N: IS\n"
    "                         NULL) by primary key: a header of the column names,\n"
    "                         then one line a row, fields separated by tabs\n"
    "  log                    print the operations log, one line each:\n"
    "                         ORDER TABLE ID COMMAND VERSION, tab-separated,\n"
    "                         VERSION - while not pushed\n"
    "  status                 print node, version, operations and unpushed counts\n"
    "\n"
    "Sync commands (SERVER: http://HOST:PORT or https://HOST:PORT):\n"
    "  register SERVER        make this database a node of the server\n"
    "  push SERVER            send the unpushed operations\n"
    "  pull SERVER            fetch the server's new versions and merge them\n"
    "  sync SERVER            push; when the server is ahead, pull and push again\n"
    "  repair SERVER          replace the synced tables with the server's content\n"
    "                         and reset the log (unpushed operations are lost)\n"
    "Each prints one line on success. On a terminal, stderr shows their progress.\n"
    "\n"
    "Values are the text forms of the column types: integer -42; boolean true,\n"
    "false, 1, 0; real 2.5e-3; decimal -123.45; text as is; date YYYY-MM-DD; time\n"
    "HH:MM:SS[.ffffff]; datetime \"YYYY-MM-DD HH:MM:SS[.ffffff]\"; blob as\n"
    "hexadecimal digits (00ff). Exactly \\N is NULL; exactly \\\\N is the text \\N;\n"
    "anything else is taken verbatim.\n"
    "\n"
    "get and list print values in the same forms, NULL as \\N, with backslash, tab,\n"
    "newline and carriage return in a value written \\\\, \\t, \\n and \\r (so a text\n"
    "that is literally \\N prints as \\\\N).\n"
    "\n"
    "Exit status: 0 success; 1 bad input, missing row, refused or failed database\n"
    "operation or sync procedure; 2 usage error (unknown option or command, missing\n"
    "option or argument, bad option value); 3 the server cannot be reached (offline\n"
    "or timed out: retry later); 4 push refused, the server is ahead (pull first,\n"
    "or run sync again); 5 a conflict the application must resolve (for example a\n"
    "unique value taken on the server): fix the row, then sync again.\n";

/* ---- parsing arguments ---- */

/* A row id: an optional '-' and decimal digits, within 64 bits. */
static bool parse_id(const char *s, int64_t *out)
{
    const char *p = s;
    bool neg = *p == '-';
    if (neg)
        p++;
    if (!*p)
        return false;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        unsigned d = (unsigned)(*p - '0');
        if (v > (limit - d) / 10)
            return false;
        v = v * 10 + d;
    }
    if (neg)
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    else
        *out = (int64_t)v;
    return true;
}

/*
 * A number of seconds, "DIGITS[.DIGITS]" (no sign, no exponent, read the same
 * whatever the locale), to milliseconds: at least 1, at most TIMEOUT_MAX_S
 * seconds; digits after the third decimal are dropped.
 */
static bool parse_timeout(const char *s, long *out)
{
    const char *p = s;
    long whole = 0, frac = 0;
    int nfrac = 0;
    if (!(*p >= '0' && *p <= '9'))
        return false;
    for (; *p >= '0' && *p <= '9'; p++) {
        whole = whole * 10 + (*p - '0');
        if (whole > TIMEOUT_MAX_S)
            return false;
    }
    if (*p == '.') {
        p++;
        if (!(*p >= '0' && *p <= '9'))
            return false;
        for (; *p >= '0' && *p <= '9'; p++)
            if (nfrac < 3) {
                frac = frac * 10 + (*p - '0');
                nfrac++;
            }
    }
    if (*p)
        return false;
    for (; nfrac < 3; nfrac++)
        frac *= 10;
    long ms = whole * 1000 + frac;
    if (ms < 1 || ms > TIMEOUT_MAX_S * 1000)
        return false;
    *out = ms;
    return true;
}

static int find_table(const cli *c, const char *name, const dbsync_table **out)
{
    *out = dbsync_schema_table(c->schema, name);
    if (!*out)
        return fail(EXIT_FAIL, "unknown table \"%s\"", shown(name));
    return EXIT_OK;
}

static int find_id(const char *text, int64_t *out)
{
    if (!parse_id(text, out))
        return fail(EXIT_FAIL, "\"%s\" is not a row id", shown(text));
    return EXIT_OK;
}

/* The value syntax: exactly \N is NULL, exactly \\N is the text \N, the rest is verbatim. */
static const char *value_text(const char *arg)
{
    if (strcmp(arg, "\\N") == 0)
        return NULL;
    if (strcmp(arg, "\\\\N") == 0)
        return arg + 1;
    return arg;
}

/*
 * Splits col=value arguments into out (argc entries), checking that every
 * column exists and is given once.
 */
static int parse_assignments(const char *prefix, const dbsync_table *t, int argc, char **argv,
                             assignment *out)
{
    for (int i = 0; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        if (!eq || eq == argv[i])
            return fail(EXIT_USAGE, "%s: \"%s\" is not col=value", prefix, shown(argv[i]));
        size_t len = (size_t)(eq - argv[i]);
        int col = -1;
        char name[128];
        if (len < sizeof name) {
            memcpy(name, argv[i], len);
            name[len] = '\0';
            col = dbsync_table_column(t, name);
        }
        if (col < 0) {
            char *copy = malloc(len + 1);
            if (!copy)
                return fail(EXIT_FAIL, "out of memory");
            memcpy(copy, argv[i], len);
            copy[len] = '\0';
            fail(EXIT_FAIL, "unknown column \"%s\" in table \"%s\"", shown(copy), t->name);
            free(copy);
            return EXIT_FAIL;
        }
        for (int j = 0; j < i; j++)
            if (out[j].column == col)
                return fail(EXIT_FAIL, "%s: column \"%s\" given twice", prefix,
                            t->columns[col].name);
        out[i].column = col;
        out[i].text = value_text(eq + 1);
    }
    return EXIT_OK;
}

/*
 * Sets values[a->column] (already a NULL or a value of the column's type) to
 * the assignment's value and checks that it fits the column.
 */
static int assign_value(const char *prefix, const dbsync_table *t, dbsync_value *values,
                        const assignment *a)
{
    const dbsync_column *col = &t->columns[a->column];
    dbsync_value *v = &values[a->column];
    dbsync_error err;
    memset(&err, 0, sizeof err);
    dbsync_value_clear(v);
    v->type = col->type;
    v->is_null = true;
    if (a->text) {
        int rc = dbsync_value_parse(v, NULL, col, a->text, &err);
        if (rc != DBSYNC_OK) {
            memset(v, 0, sizeof *v);
            v->type = col->type;
            v->is_null = true;
            return column_fail(prefix, col, &err, rc);
        }
        v->is_null = false;
    }
    int rc = dbsync_value_check(v, NULL, col, &err);
    if (rc != DBSYNC_OK)
        return column_fail(prefix, col, &err, rc);
    return EXIT_OK;
}

/* A value array of one NULL per column, each of its column's type; NULL when out of memory. */
static dbsync_value *null_row(const dbsync_table *t)
{
    dbsync_value *values = calloc(t->n_columns ? t->n_columns : 1, sizeof *values);
    if (!values)
        return NULL;
    for (size_t i = 0; i < t->n_columns; i++) {
        values[i].type = t->columns[i].type;
        values[i].is_null = true;
    }
    return values;
}

static void free_row(const dbsync_table *t, dbsync_value *values)
{
    if (!values)
        return;
    dbsync_row_clear(t, values);
    free(values);
}

/* ---- output ---- */

/* Writes a value in the output form: NULL as \N, backslash and line breaks escaped. */
static int put_value(FILE *f, const dbsync_value *v)
{
    char *text = NULL;
    int rc = dbsync_value_format(&text, v);
    if (rc != DBSYNC_OK)
        return rc;
    if (!text) {
        fputs("\\N", f);
        return DBSYNC_OK;
    }
    for (const char *p = text; *p; p++) {
        switch (*p) {
        case '\\':
            fputs("\\\\", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        default:
            fputc(*p, f);
            break;
        }
    }
    free(text);
    return DBSYNC_OK;
}

static int format_fail(const char *prefix, const dbsync_column *col, int rc)
{
    if (rc == DBSYNC_EINVALID)
        return fail(EXIT_FAIL, "%s: column \"%s\": the stored value is not a valid %s", prefix,
                    col->name, dbsync_type_name(col->type));
    return fail(EXIT_FAIL, "%s: out of memory", prefix);
}

/* ---- the database ---- */

/* Opens the database. Every command but init works on an initialized
 * database only: on SQLite a missing file is not created (create=false),
 * and the tables must exist. */
static int open_conn(cli *c, bool initializing)
{
    dbsync_error err;
    memset(&err, 0, sizeof err);
    const char *url = c->db_url;
    char *owned = NULL;
    if (!initializing && strncmp(url, "sqlite3:", 8) == 0) {
        size_t n = strlen(url) + 16;
        owned = malloc(n);
        if (!owned)
            return fail(EXIT_FAIL, "out of memory");
        snprintf(owned, n, "%s%ccreate=false", url, strchr(url, '?') ? '&' : '?');
        url = owned;
    }
    int rc = dbsync_conn_open(&c->conn, url, c->schema, &err);
    free(owned);
    if (rc != DBSYNC_OK) {
        c->conn = NULL;
        if (rc == DBSYNC_ENOTFOUND)
            return fail(EXIT_FAIL, "%s (run dbsync init first)", error_text(&err, rc));
        return fail(EXIT_FAIL, "%s", error_text(&err, rc));
    }
    if (!initializing && (rc = dbsync_conn_check(c->conn)) != DBSYNC_OK)
        return fail(EXIT_FAIL, "%s (run dbsync init first)",
                    error_text(dbsync_conn_error(c->conn), rc));
    return EXIT_OK;
}

/* ---- commands ---- */

static int cmd_init(cli *c, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    int status = open_conn(c, true);
    if (status != EXIT_OK)
        return status;
    int rc = dbsync_conn_create_all(c->conn);
    if (rc != DBSYNC_OK)
        return op_fail(c, "init", rc);
    return EXIT_OK;
}

static int cmd_insert(cli *c, int argc, char **argv)
{
    const dbsync_table *t;
    int status = find_table(c, argv[0], &t);
    if (status != EXIT_OK)
        return status;
    char prefix[160];
    snprintf(prefix, sizeof prefix, "insert %s", t->name);

    int n = argc - 1;
    assignment *as = calloc(n ? (size_t)n : 1, sizeof *as);
    dbsync_value *values = null_row(t);
    if (!as || !values) {
        status = fail(EXIT_FAIL, "out of memory");
        goto done;
    }
    status = parse_assignments(prefix, t, n, argv + 1, as);
    if (status != EXIT_OK)
        goto done;
    if (dbsync_row_init(t, values) != DBSYNC_OK) {
        status = fail(EXIT_FAIL, "%s: out of memory", prefix);
        goto done;
    }
    for (int i = 0; i < n; i++) {
        status = assign_value(prefix, t, values, &as[i]);
        if (status != EXIT_OK)
            goto done;
    }
    /* Defaults and NULLs of the columns not given must fit too (NOT NULL ones). */
    dbsync_error err;
    memset(&err, 0, sizeof err);
    for (size_t i = 0; i < t->n_columns; i++) {
        if (i == t->primary_key)
            continue;
        int rc = dbsync_value_check(&values[i], NULL, &t->columns[i], &err);
        if (rc != DBSYNC_OK) {
            status = column_fail(prefix, &t->columns[i], &err, rc);
            goto done;
        }
    }

    status = open_conn(c, false);
    if (status != EXIT_OK)
        goto done;
    int rc = dbsync_row_insert(c->conn, t, values);
    if (rc != DBSYNC_OK) {
        status = op_fail(c, prefix, rc);
        goto done;
    }
    const dbsync_value *pk = &values[t->primary_key];
    if (pk->is_null) {
        status = fail(EXIT_FAIL, "%s: the database returned no primary key", prefix);
        goto done;
    }
    printf("%" PRId64 "\n", pk->u.i);
done:
    free_row(t, values);
    free(as);
    return status;
}

static int cmd_update(cli *c, int argc, char **argv)
{
    const dbsync_table *t;
    int64_t id;
    int status = find_table(c, argv[0], &t);
    if (status == EXIT_OK)
        status = find_id(argv[1], &id);
    if (status != EXIT_OK)
        return status;
    char prefix[160];
    snprintf(prefix, sizeof prefix, "update %s %" PRId64, t->name, id);

    int n = argc - 2;
    assignment *as = calloc((size_t)n, sizeof *as);
    bool *mask = calloc(t->n_columns ? t->n_columns : 1, sizeof *mask);
    dbsync_value *values = null_row(t);
    if (!as || !mask || !values) {
        status = fail(EXIT_FAIL, "out of memory");
        goto done;
    }
    status = parse_assignments(prefix, t, n, argv + 2, as);
    if (status != EXIT_OK)
        goto done;
    for (int i = 0; i < n; i++) {
        if ((unsigned)as[i].column == t->primary_key) {
            status = fail(EXIT_FAIL, "%s: the primary key \"%s\" cannot be changed", prefix,
                          t->columns[t->primary_key].name);
            goto done;
        }
        status = assign_value(prefix, t, values, &as[i]);
        if (status != EXIT_OK)
            goto done;
        mask[as[i].column] = true;
    }
    values[t->primary_key].is_null = false;
    values[t->primary_key].u.i = id;

    status = open_conn(c, false);
    if (status != EXIT_OK)
        goto done;
    int rc = dbsync_row_update(c->conn, t, values, mask);
    if (rc == DBSYNC_ENOTFOUND)
        status = fail(EXIT_FAIL, "%s: no such row", prefix);
    else if (rc != DBSYNC_OK)
        status = op_fail(c, prefix, rc);
done:
    free_row(t, values);
    free(mask);
    free(as);
    return status;
}

static int cmd_delete(cli *c, int argc, char **argv)
{
    (void)argc;
    const dbsync_table *t;
    int64_t id;
    int status = find_table(c, argv[0], &t);
    if (status == EXIT_OK)
        status = find_id(argv[1], &id);
    if (status == EXIT_OK)
        status = open_conn(c, false);
    if (status != EXIT_OK)
        return status;
    char prefix[160];
    snprintf(prefix, sizeof prefix, "delete %s %" PRId64, t->name, id);
    int rc = dbsync_row_delete(c->conn, t, id);
    if (rc == DBSYNC_ENOTFOUND)
        return fail(EXIT_FAIL, "%s: no such row", prefix);
    if (rc != DBSYNC_OK)
        return op_fail(c, prefix, rc);
    return EXIT_OK;
}

static int cmd_get(cli *c, int argc, char **argv)
{
    (void)argc;
    const dbsync_table *t;
    int64_t id;
    int status = find_table(c, argv[0], &t);
    if (status == EXIT_OK)
        status = find_id(argv[1], &id);
    if (status != EXIT_OK)
        return status;
    char prefix[160];
    snprintf(prefix, sizeof prefix, "get %s %" PRId64, t->name, id);
    dbsync_value *values = null_row(t);
    if (!values)
        return fail(EXIT_FAIL, "out of memory");
    status = open_conn(c, false);
    if (status != EXIT_OK)
        goto done;
    int rc = dbsync_row_get(c->conn, t, id, values);
    if (rc == DBSYNC_ENOTFOUND) {
        status = fail(EXIT_FAIL, "%s: no such row", prefix);
        goto done;
    }
    if (rc != DBSYNC_OK) {
        status = op_fail(c, prefix, rc);
        goto done;
    }
    for (size_t i = 0; i < t->n_columns; i++) {
        printf("%s=", t->columns[i].name);
        rc = put_value(stdout, &values[i]);
        if (rc != DBSYNC_OK) {
            putchar('\n');
            status = format_fail(prefix, &t->columns[i], rc);
            goto done;
        }
        putchar('\n');
    }
done:
    free_row(t, values);
    return status;
}

static int cmd_list(cli *c, int argc, char **argv)
{
    const dbsync_table *t;
    int status = find_table(c, argv[0], &t);
    if (status != EXIT_OK)
        return status;
    char prefix[160];
    snprintf(prefix, sizeof prefix, "list %s", t->name);

    int n = argc - 1;
    assignment *as = calloc(n ? (size_t)n : 1, sizeof *as);
    dbsync_filter *filters = calloc(n ? (size_t)n : 1, sizeof *filters);
    char **texts = calloc(n ? (size_t)n : 1, sizeof *texts);
    dbsync_value *values = null_row(t);
    dbsync_iter *it = NULL;
    if (!as || !filters || !texts || !values) {
        status = fail(EXIT_FAIL, "out of memory");
        goto done;
    }
    status = parse_assignments(prefix, t, n, argv + 1, as);
    if (status != EXIT_OK)
        goto done;
    /* Each filter value is checked like a written one and passed on in its canonical form. */
    for (int i = 0; i < n; i++) {
        const dbsync_column *col = &t->columns[as[i].column];
        filters[i].column = col->name;
        if (!as[i].text) {
            filters[i].op = DBSYNC_FILTER_IS_NULL;
            filters[i].value = NULL;
            continue;
        }
        dbsync_value v;
        dbsync_error err;
        memset(&err, 0, sizeof err);
        int rc = dbsync_value_parse(&v, NULL, col, as[i].text, &err);
        if (rc != DBSYNC_OK) {
            status = column_fail(prefix, col, &err, rc);
            goto done;
        }
        v.is_null = false;
        rc = dbsync_value_format(&texts[i], &v);
        dbsync_value_clear(&v);
        if (rc != DBSYNC_OK || !texts[i]) {
            status = fail(EXIT_FAIL, "%s: column \"%s\": \"%s\" cannot be compared", prefix,
                          col->name, shown(as[i].text));
            goto done;
        }
        filters[i].op = DBSYNC_FILTER_EQ;
        filters[i].value = texts[i];
    }

    status = open_conn(c, false);
    if (status != EXIT_OK)
        goto done;
    dbsync_query q = DBSYNC_QUERY_INIT;
    q.filters = filters;
    q.n_filters = (size_t)n;
    int rc = dbsync_iter_new(&it, c->conn, t, &q);
    if (rc != DBSYNC_OK) {
        it = NULL;
        status = op_fail(c, prefix, rc);
        goto done;
    }
    for (size_t i = 0; i < t->n_columns; i++)
        printf("%s%s", i ? "\t" : "", t->columns[i].name);
    putchar('\n');
    while ((rc = dbsync_iter_next_values(it, values)) == DBSYNC_OK) {
        for (size_t i = 0; i < t->n_columns; i++) {
            if (i)
                putchar('\t');
            int frc = put_value(stdout, &values[i]);
            if (frc != DBSYNC_OK) {
                putchar('\n');
                status = format_fail(prefix, &t->columns[i], frc);
                goto done;
            }
        }
        putchar('\n');
        dbsync_row_clear(t, values);
    }
    if (rc != DBSYNC_ITEROVER)
        status = op_fail(c, prefix, rc);
done:
    dbsync_iter_free(it);
    free_row(t, values);
    for (int i = 0; texts && i < n; i++)
        free(texts[i]);
    free(texts);
    free(filters);
    free(as);
    return status;
}

static int print_operation(const dbsync_operation *op, void *payload)
{
    (void)payload;
    printf("%" PRId64 "\t", op->order);
    if (op->table)
        fputs(op->table, stdout);
    else
        printf("#%" PRId32, op->content_type_id);
    printf("\t%" PRId64 "\t%c\t", op->row_id, op->command);
    if (op->version_id)
        printf("%" PRId64 "\n", op->version_id);
    else
        puts("-");
    return 0;
}

static int cmd_log(cli *c, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    int status = open_conn(c, false);
    if (status != EXIT_OK)
        return status;
    int rc = dbsync_oplog_foreach(c->conn, false, print_operation, NULL);
    if (rc != DBSYNC_OK)
        return op_fail(c, "log", rc);
    return EXIT_OK;
}

static int cmd_status(cli *c, int argc, char **argv)
{
    (void)argc;
    (void)argv;
    int status = open_conn(c, false);
    if (status != EXIT_OK)
        return status;
    dbsync_status st;
    memset(&st, 0, sizeof st);
    int rc = dbsync_status_get(c->conn, &st);
    if (rc != DBSYNC_OK)
        return op_fail(c, "status", rc);
    if (st.node_id)
        printf("node: %" PRId64 "\n", st.node_id);
    else
        puts("node: unregistered");
    if (st.version_id)
        printf("version: %" PRId64 "\n", st.version_id);
    else
        puts("version: none");
    printf("operations: %" PRId64 "\n", st.operations);
    printf("unpushed: %" PRId64 "\n", st.unpushed);
    return EXIT_OK;
}

/* ---- the sync commands ---- */

typedef enum remote_kind { R_REGISTER, R_PUSH, R_PULL, R_SYNC, R_REPAIR } remote_kind;

/* The progress line on stderr: how many characters it shows now (0: none). */
typedef struct progress_line {
    size_t shown;
} progress_line;

/* Words of a progress stage: what is done and to what it is counted. */
static void stage_words(const char *stage, const char **verb, const char **unit)
{
    static const struct {
        const char *stage, *verb, *unit;
    } words[] = {{"push", "pushing", "operations"},
                 {"pull", "pulling", "operations"},
                 {"merge", "merging", "operations"},
                 {"repair", "repairing", "rows"}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcmp(stage, words[i].stage) == 0) {
            *verb = words[i].verb;
            *unit = words[i].unit;
            return;
        }
    *verb = stage;
    *unit = "done";
}

/* The progress callback: redraws the one line, padding over a longer previous one. */
static int show_progress(const char *stage, int64_t done, int64_t total, void *payload)
{
    progress_line *p = payload;
    const char *verb, *unit;
    char line[160];
    stage_words(stage ? stage : "working", &verb, &unit);
    int n;
    if (total >= 0 && done <= total)
        n = snprintf(line, sizeof line, "dbsync: %.40s %" PRId64 "/%" PRId64 " %s (%d%%)", verb,
                     done, total, unit,
                     total > 0 ? (int)((double)done * 100.0 / (double)total) : 100);
    else
        n = snprintf(line, sizeof line, "dbsync: %.40s %" PRId64 " %s", verb, done, unit);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    fputc('\r', stderr);
    fwrite(line, 1, len, stderr);
    for (size_t i = len; i < p->shown; i++)
        fputc(' ', stderr);
    if (len > p->shown)
        p->shown = len;
    fflush(stderr);
    return 0;
}

/* Erases the progress line, if any, so that the next output starts a clean line. */
static void progress_clear(progress_line *p)
{
    if (!p->shown)
        return;
    fputc('\r', stderr);
    for (size_t i = 0; i < p->shown; i++)
        fputc(' ', stderr);
    fputc('\r', stderr);
    fflush(stderr);
    p->shown = 0;
}

static bool has_prefix_nocase(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++) {
        char ch = *s >= 'A' && *s <= 'Z' ? (char)(*s - 'A' + 'a') : *s;
        if (ch != *prefix)
            return false;
    }
    return true;
}

/* A server URL as the tool accepts it: http:// or https://, then a host. The
 * library checks the rest before any request. */
static int check_server(const char *url)
{
    size_t skip = 0;
    if (has_prefix_nocase(url, "http://"))
        skip = 7;
    else if (has_prefix_nocase(url, "https://"))
        skip = 8;
    if (!skip)
        return fail(EXIT_FAIL,
                    "bad server URL \"%s\": expected http://HOST:PORT or https://HOST:PORT",
                    shown(url));
    if (url[skip] == '\0' || url[skip] == '/' || url[skip] == ':')
        return fail(EXIT_FAIL, "bad server URL \"%s\": no host", shown(url));
    return EXIT_OK;
}

/* The exit status of a failed sync procedure. */
static int remote_status(int rc)
{
    switch (rc) {
    case DBSYNC_ENET:
        return EXIT_OFFLINE;
    case DBSYNC_EPULLREQUIRED:
        return EXIT_STALE;
    case DBSYNC_ECONFLICT:
        return EXIT_CONFLICT;
    default:
        return EXIT_FAIL;
    }
}

/* Prints "version V" or "no version yet" (a server that has none). */
static void put_version(const char *head, int64_t version)
{
    if (version)
        printf("%s version %" PRId64 "\n", head, version);
    else
        printf("%s no version yet\n", head);
}

static int remote(cli *c, const char *server, remote_kind kind, const char *name)
{
    int status = check_server(server);
    if (status == EXIT_OK)
        status = open_conn(c, false);
    if (status != EXIT_OK)
        return status;

    dbsync_status before, after;
    memset(&before, 0, sizeof before);
    memset(&after, 0, sizeof after);
    int rc = dbsync_status_get(c->conn, &before);
    if (rc != DBSYNC_OK)
        return op_fail(c, name, rc);

    progress_line line = {0};
    dbsync_client_options opts = DBSYNC_CLIENT_OPTIONS_INIT;
    opts.timeout_ms = c->timeout_ms;
    /* A short limit also bounds the connection; a long one keeps the library's 10 s. */
    if (c->timeout_ms > 0 && c->timeout_ms < 10000)
        opts.connect_timeout_ms = c->timeout_ms;
    opts.page_size = c->page_size;
    opts.token = c->token;
    if (isatty(STDERR_FILENO)) {
        opts.progress = show_progress;
        opts.payload = &line;
    }

    switch (kind) {
    case R_REGISTER:
        rc = dbsync_register(c->conn, server, &opts);
        break;
    case R_PUSH:
        rc = dbsync_push(c->conn, server, &opts);
        break;
    case R_PULL:
        rc = dbsync_pull(c->conn, server, &opts);
        break;
    case R_SYNC:
        rc = dbsync_sync(c->conn, server, &opts);
        break;
    case R_REPAIR:
        rc = dbsync_repair(c->conn, server, &opts);
        break;
    }
    progress_clear(&line);
    if (rc != DBSYNC_OK) {
        const char *msg = conn_text(c, rc);
        size_t n = strlen(name);
        int code = remote_status(rc);
        if (strncmp(msg, name, n) == 0 && msg[n] == ':')
            return fail(code, "%s", msg);
        return fail(code, "%s: %s", name, msg);
    }
    rc = dbsync_status_get(c->conn, &after);
    if (rc != DBSYNC_OK)
        return op_fail(c, name, rc);

    switch (kind) {
    case R_REGISTER:
        printf("registered as node %" PRId64 "\n", after.node_id);
        break;
    case R_PUSH: {
        /* Writes made meanwhile by another program are not counted as pushed. */
        int64_t pushed = before.unpushed - after.unpushed;
        if (pushed < 0)
            pushed = 0;
        if (pushed == 0 && after.version_id == before.version_id) {
            puts("nothing to push");
        } else {
            printf("pushed %" PRId64 " operation%s:", pushed, pushed == 1 ? "" : "s");
            put_version("", after.version_id);
        }
        break;
    }
    case R_PULL:
        if (after.version_id)
            printf("pulled to version %" PRId64 "\n", after.version_id);
        else
            puts("pulled: no version yet");
        break;
    case R_SYNC:
        put_version("synced:", after.version_id);
        break;
    case R_REPAIR:
        put_version("repaired:", after.version_id);
        break;
    }
    return EXIT_OK;
}

static int cmd_register(cli *c, int argc, char **argv)
{
    (void)argc;
    return remote(c, argv[0], R_REGISTER, "register");
}

static int cmd_push(cli *c, int argc, char **argv)
{
    (void)argc;
    return remote(c, argv[0], R_PUSH, "push");
}

static int cmd_pull(cli *c, int argc, char **argv)
{
    (void)argc;
    return remote(c, argv[0], R_PULL, "pull");
}

static int cmd_sync(cli *c, int argc, char **argv)
{
    (void)argc;
    return remote(c, argv[0], R_SYNC, "sync");
}

static int cmd_repair(cli *c, int argc, char **argv)
{
    (void)argc;
    return remote(c, argv[0], R_REPAIR, "repair");
}

static const command commands[] = {
    {"init", 0, 0, cmd_init, "init", false},
    {"insert", 1, -1, cmd_insert, "insert TABLE [col=value...]", false},
    {"update", 3, -1, cmd_update, "update TABLE ID col=value...", false},
    {"delete", 2, 2, cmd_delete, "delete TABLE ID", false},
    {"get", 2, 2, cmd_get, "get TABLE ID", false},
    {"list", 1, -1, cmd_list, "list TABLE [col=value...]", false},
    {"log", 0, 0, cmd_log, "log", false},
    {"status", 0, 0, cmd_status, "status", false},
    {"register", 1, 1, cmd_register, "register SERVER", true},
    {"push", 1, 1, cmd_push, "push SERVER", true},
    {"pull", 1, 1, cmd_pull, "pull SERVER", true},
    {"sync", 1, 1, cmd_sync, "sync SERVER", true},
    {"repair", 1, 1, cmd_repair, "repair SERVER", true},
};

/* ---- main ---- */

/* An option "--name VALUE" or "--name=VALUE" (tools/options.h): 1 when it
 * matched, 0 when not, -1 after printing a usage error. */
static int option_value(int argc, char **argv, int *i, const char *name, const char **value)
{
    char why[160];
    int m = tool_option(argc, argv, i, name, value, why, sizeof why);
    if (m < 0)
        fail(EXIT_USAGE, "%s", why);
    return m;
}

static int run(int argc, char **argv)
{
    cli c;
    memset(&c, 0, sizeof c);
    int i = 1;
    for (; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        }
        if (arg[0] != '-' || arg[1] == '\0')
            break;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(usage_text, stdout);
            return EXIT_OK;
        }
        if (strcmp(arg, "--version") == 0) {
            printf("dbsync %s\n", dbsync_version());
            return EXIT_OK;
        }
        int m = 0;
        if (arg[1] == '-') {
            m = option_value(argc, argv, &i, "db", &c.db_url);
            if (m == 0)
                m = option_value(argc, argv, &i, "schema", &c.schema_path);
            if (m == 0)
                m = option_value(argc, argv, &i, "token", &c.token);
            if (m == 0)
                m = option_value(argc, argv, &i, "timeout", &c.timeout_text);
            if (m == 0)
                m = option_value(argc, argv, &i, "page-size", &c.page_size_text);
        }
        if (m < 0)
            return EXIT_USAGE;
        if (m == 0)
            return fail(EXIT_USAGE, "unknown option \"%s\" (see dbsync --help)", shown(arg));
    }
    if (i >= argc)
        return fail(EXIT_USAGE, "no command given (see dbsync --help)");

    const command *cmd = NULL;
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++)
        if (strcmp(argv[i], commands[k].name) == 0)
            cmd = &commands[k];
    if (!cmd)
        return fail(EXIT_USAGE, "unknown command \"%s\"", shown(argv[i]));
    int nargs = argc - i - 1;
    if (nargs < cmd->min_args)
        return fail(EXIT_USAGE, "%s: missing arguments (usage: dbsync ... %s)", cmd->name,
                    cmd->synopsis);
    if (cmd->max_args >= 0 && nargs > cmd->max_args)
        return fail(EXIT_USAGE, "%s: too many arguments (usage: dbsync ... %s)", cmd->name,
                    cmd->synopsis);
    if (c.token && strcmp(cmd->name, "register") != 0)
        return fail(EXIT_USAGE, "option --token applies to register only");
    if ((c.timeout_text || c.page_size_text) && !cmd->remote)
        return fail(EXIT_USAGE,
                    "option --%s applies to the sync commands only (register, push, "
                    "pull, sync, repair)",
                    c.timeout_text ? "timeout" : "page-size");
    if (c.timeout_text && !parse_timeout(c.timeout_text, &c.timeout_ms))
        return fail(EXIT_USAGE, "--timeout: \"%s\" is not a number of seconds from 0.001 to %ld",
                    shown(c.timeout_text), TIMEOUT_MAX_S);
    if (c.page_size_text) {
        int64_t v;
        if (!parse_id(c.page_size_text, &v) || v < 1 || v > PAGE_SIZE_MAX)
            return fail(EXIT_USAGE, "--page-size: \"%s\" is not a number from 1 to %ld",
                        shown(c.page_size_text), PAGE_SIZE_MAX);
        c.page_size = (long)v;
    }
    if (!c.db_url)
        return fail(EXIT_USAGE, "missing --db URL (see dbsync --help)");
    if (!c.schema_path)
        return fail(EXIT_USAGE, "missing --schema SCHEMA.xml (see dbsync --help)");

    dbsync_error err;
    memset(&err, 0, sizeof err);
    int rc = dbsync_schema_load_file(&c.schema, c.schema_path, &err);
    if (rc != DBSYNC_OK) {
        c.schema = NULL;
        return fail(EXIT_FAIL, "%s", error_text(&err, rc));
    }
    int status = cmd->run(&c, nargs, argv + i + 1);
    dbsync_conn_close(c.conn);
    dbsync_schema_free(c.schema);
    return status;
}

int main(int argc, char **argv)
{
    if (dbsync_global_init() != DBSYNC_OK)
        return fail(EXIT_FAIL, "cannot initialize the libraries");
    int status = run(argc, argv);
    dbsync_global_cleanup();
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fail(EXIT_FAIL, "cannot write the output");
        status = status == EXIT_OK ? EXIT_FAIL : status;
    }
    return status;
}
