/* SPDX-License-Identifier: MIT */
/*
 * The schema model: lookups, type names, content type ids, the arena a
 * loaded schema lives in, and the rules every schema obeys (doc/schema.md),
 * checked the same way on a schema loaded from XML and on a generated
 * descriptor.
 *
 * Invariants kept for a schema that passed dbsync__schema_check(): names are
 * identifiers that are not C keywords, unique ignoring case; every table has
 * exactly one primary key, an integer that is not nullable; references point
 * at existing tables from integer columns; defaults are valid for their
 * column; keys list existing columns once each and have distinct names.
 */
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "schema_internal.h"

/* ---- arena ---- */

struct dbsync__arena_block {
    dbsync__arena_block *next;
    size_t used;
    size_t size;
    max_align_t data[];
};

#define ARENA_BLOCK_SIZE 4096

void *dbsync__arena_alloc(dbsync__arena *arena, size_t size)
{
    const size_t align = alignof(max_align_t);
    if (size > SIZE_MAX - align)
        return NULL;
    size = (size + align - 1) / align * align;
    dbsync__arena_block *b = arena->head;
    if (!b || b->size - b->used < size) {
        /* Large requests get a block of their own, kept behind the current
         * one so the rest of the current block stays in use. */
        size_t bsize = size > ARENA_BLOCK_SIZE / 4 ? size : ARENA_BLOCK_SIZE;
        if (bsize > SIZE_MAX - sizeof *b)
            return NULL;
        dbsync__arena_block *nb = calloc(1, sizeof *nb + bsize);
        if (!nb)
            return NULL;
        nb->size = bsize;
        if (b && bsize != ARENA_BLOCK_SIZE) {
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            arena->head = nb;
        }
        b = nb;
    }
    void *p = (char *)b->data + b->used;
    b->used += size;
    return p;
}

char *dbsync__arena_strndup(dbsync__arena *arena, const char *s, size_t n)
{
    if (n == SIZE_MAX)
        return NULL;
    char *p = dbsync__arena_alloc(arena, n + 1);
    if (!p)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *dbsync__arena_strdup(dbsync__arena *arena, const char *s)
{
    return s ? dbsync__arena_strndup(arena, s, strlen(s)) : NULL;
}

void dbsync__arena_free(dbsync__arena *arena)
{
    dbsync__arena_block *b = arena->head;
    while (b) {
        dbsync__arena_block *next = b->next;
        free(b);
        b = next;
    }
    arena->head = NULL;
}

/* A loaded schema: the public struct first, so a dbsync_schema pointer is a
 * pointer to this. */
typedef struct owned_schema {
    dbsync_schema schema;
    dbsync__arena arena;
} owned_schema;

dbsync_schema *dbsync__schema_new(void)
{
    owned_schema *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    o->schema.magic = DBSYNC_SCHEMA_MAGIC;
    return &o->schema;
}

dbsync__arena *dbsync__schema_arena(dbsync_schema *schema)
{
    return &((owned_schema *)schema)->arena;
}

void dbsync_schema_free(dbsync_schema *schema)
{
    if (!schema)
        return;
    owned_schema *o = (owned_schema *)schema;
    dbsync__arena_free(&o->arena);
    free(o);
}

/* ---- lookups and names ---- */

const dbsync_table *dbsync_schema_table(const dbsync_schema *schema, const char *name)
{
    if (!schema || !name)
        return NULL;
    for (size_t i = 0; i < schema->n_tables; i++)
        if (schema->tables[i].name && !strcmp(schema->tables[i].name, name))
            return &schema->tables[i];
    return NULL;
}

int dbsync_table_column(const dbsync_table *table, const char *name)
{
    if (!table || !name)
        return -1;
    for (size_t i = 0; i < table->n_columns && i <= INT32_MAX; i++)
        if (table->columns[i].name && !strcmp(table->columns[i].name, name))
            return (int)i;
    return -1;
}

uint32_t dbsync__fnv1a(const char *s, uint32_t seed)
{
    uint32_t h = seed;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        h ^= *p;
        h *= 16777619u;
    }
    return h;
}

int32_t dbsync_content_type_id(const char *table_name)
{
    uint32_t h = dbsync__fnv1a(table_name ? table_name : "", DBSYNC__FNV1A_SEED) & 0x7fffffffu;
    return h ? (int32_t)h : 1;
}

static const char *const type_names[] = {
    NULL, "integer", "boolean", "real", "decimal", "text", "blob", "date", "time", "datetime",
};

const char *dbsync_type_name(dbsync_type type)
{
    if ((int)type < DBSYNC_TYPE_INTEGER || (int)type > DBSYNC_TYPE_DATETIME)
        return "unknown";
    return type_names[type];
}

dbsync_type dbsync__type_from_name(const char *name)
{
    for (int t = DBSYNC_TYPE_INTEGER; name && t <= DBSYNC_TYPE_DATETIME; t++)
        if (!strcmp(type_names[t], name))
            return (dbsync_type)t;
    return (dbsync_type)0;
}

bool dbsync__type_has_flag(dbsync_type type)
{
    switch (type) {
    case DBSYNC_TYPE_INTEGER:
    case DBSYNC_TYPE_BOOLEAN:
    case DBSYNC_TYPE_REAL:
    case DBSYNC_TYPE_DATE:
    case DBSYNC_TYPE_TIME:
    case DBSYNC_TYPE_DATETIME:
        return true;
    default:
        return false;
    }
}

/* Words that cannot name a table or a column: generated code uses the names
 * bare, as struct fields and parameters. C11 and C23 keywords, plus the
 * macros and words of <stdbool.h>, <stddef.h> and common extensions. */
static const char *const c_keywords[] = {
    "auto",       "break",      "case",           "char",
    "const",      "continue",   "default",        "do",
    "double",     "else",       "enum",           "extern",
    "float",      "for",        "goto",           "if",
    "inline",     "int",        "long",           "register",
    "restrict",   "return",     "short",          "signed",
    "sizeof",     "static",     "struct",         "switch",
    "typedef",    "union",      "unsigned",       "void",
    "volatile",   "while",      "_Alignas",       "_Alignof",
    "_Atomic",    "_Bool",      "_Complex",       "_Generic",
    "_Imaginary", "_Noreturn",  "_Static_assert", "_Thread_local",
    "_BitInt",    "_Decimal32", "_Decimal64",     "_Decimal128",
    "alignas",    "alignof",    "bool",           "constexpr",
    "false",      "nullptr",    "static_assert",  "thread_local",
    "true",       "typeof",     "typeof_unqual",  "noreturn",
    "asm",        "NULL",       "complex",        "imaginary",
};

static bool is_c_keyword(const char *name)
{
    for (size_t i = 0; i < sizeof c_keywords / sizeof c_keywords[0]; i++)
        if (!strcmp(c_keywords[i], name))
            return true;
    return false;
}

const char *dbsync__name_problem(const char *name, bool table_or_column)
{
    if (!name || !dbsync__is_identifier(name))
        return "is not a valid identifier (letters, digits and _, not starting with a digit, "
               "at most 63 bytes)";
    if (!table_or_column)
        return NULL;
    if (!strncasecmp(name, "sync_", 5))
        return "starts with \"sync_\", a prefix reserved for dbsync's own tables";
    if (is_c_keyword(name))
        return "is a C keyword";
    if (name[0] == '_' && (name[1] == '_' || (name[1] >= 'A' && name[1] <= 'Z')))
        return "is reserved in C (it starts with \"__\" or with \"_\" and a capital letter)";
    return NULL;
}

/* ---- defaults ---- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

/* [+-]?digits[.digits] | [+-]?.digits, then an optional exponent when
 * @p exponent. */
static bool number_syntax(const char *s, bool exponent)
{
    if (*s == '+' || *s == '-')
        s++;
    size_t digits = 0;
    while (is_digit(*s)) {
        s++;
        digits++;
    }
    if (*s == '.') {
        s++;
        while (is_digit(*s)) {
            s++;
            digits++;
        }
    }
    if (!digits)
        return false;
    if (exponent && (*s == 'e' || *s == 'E')) {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!is_digit(*s))
            return false;
        while (is_digit(*s))
            s++;
    }
    return *s == '\0';
}

/* strtod and "%.17g" in the C locale, whatever the process locale is. */
static int real_canonical(const char *text, char *out, size_t outsize, char *why, size_t whysize)
{
    if (!number_syntax(text, true)) {
        snprintf(why, whysize, "is not a number");
        return DBSYNC_EINVALID;
    }
    int rc = DBSYNC_OK;
    char *end;
    double v = dbsync__strtod(text, &end);
    if (*end != '\0') {
        snprintf(why, whysize, "is not a number");
        rc = DBSYNC_EINVALID;
    } else if (!isfinite(v)) {
        snprintf(why, whysize, "is out of the range of a real");
        rc = DBSYNC_EINVALID;
    } else {
        dbsync__format_real(out, outsize, v);
    }
    return rc;
}

static int decimal_canonical(const char *text, unsigned precision, unsigned scale, char *out,
                             size_t outsize, char *why, size_t whysize)
{
    if (!number_syntax(text, false)) {
        snprintf(why, whysize,
                 "is not a decimal number (digits with an optional point, no exponent)");
        return DBSYNC_EINVALID;
    }
    const char *p = text;
    bool negative = *p == '-';
    if (*p == '+' || *p == '-')
        p++;
    const char *int_digits = p;
    while (is_digit(*p))
        p++;
    size_t n_int = (size_t)(p - int_digits);
    const char *frac_digits = *p == '.' ? p + 1 : p;
    size_t n_frac = strlen(frac_digits);
    while (n_int && *int_digits == '0') {
        int_digits++;
        n_int--;
    }
    if (n_frac > scale) {
        snprintf(why, whysize, "has %zu digits after the point, more than the scale %u", n_frac,
                 scale);
        return DBSYNC_EINVALID;
    }
    if (n_int > precision - scale) {
        snprintf(why, whysize, "has %zu digits before the point; decimal(%u,%u) allows %u", n_int,
                 precision, scale, precision - scale);
        return DBSYNC_EINVALID;
    }
    bool zero = true;
    for (size_t i = 0; i < n_int && zero; i++)
        zero = int_digits[i] == '0';
    for (size_t i = 0; i < n_frac && zero; i++)
        zero = frac_digits[i] == '0';
    /* At most 1 + 65 + 1 + 30 characters: the caller checked the ranges. */
    if (2 + n_int + 1 + scale + 1 > outsize)
        return DBSYNC_ERROR;
    char *o = out;
    if (negative && !zero)
        *o++ = '-';
    if (n_int) {
        memcpy(o, int_digits, n_int);
        o += n_int;
    } else {
        *o++ = '0';
    }
    if (scale) {
        *o++ = '.';
        memcpy(o, frac_digits, n_frac);
        o += n_frac;
        for (size_t i = n_frac; i < scale; i++)
            *o++ = '0';
    }
    *o = '\0';
    return DBSYNC_OK;
}

int dbsync__default_canonical(const dbsync_column *column, const char *text,
                              char out[DBSYNC__DEFAULT_BUFSIZE], const char **canon, char *why,
                              size_t whysize)
{
    *canon = NULL;
    if (whysize)
        why[0] = '\0';
    switch (column->type) {
    case DBSYNC_TYPE_INTEGER: {
        int64_t v;
        const char *p = text + (*text == '+' || *text == '-');
        bool syntax = *p != '\0';
        for (; *p && syntax; p++)
            syntax = is_digit(*p);
        if (!syntax) {
            snprintf(why, whysize, "is not an integer");
            return DBSYNC_EINVALID;
        }
        if (dbsync__parse_int64(text, &v) != 0) {
            snprintf(why, whysize, "is out of the 64-bit integer range");
            return DBSYNC_EINVALID;
        }
        snprintf(out, DBSYNC__DEFAULT_BUFSIZE, "%" PRId64, v);
        break;
    }
    case DBSYNC_TYPE_BOOLEAN:
        if (!strcmp(text, "true") || !strcmp(text, "1")) {
            strcpy(out, "true");
        } else if (!strcmp(text, "false") || !strcmp(text, "0")) {
            strcpy(out, "false");
        } else {
            snprintf(why, whysize, "is not a boolean (true, false, 1 or 0)");
            return DBSYNC_EINVALID;
        }
        break;
    case DBSYNC_TYPE_REAL: {
        int rc = real_canonical(text, out, DBSYNC__DEFAULT_BUFSIZE, why, whysize);
        if (rc != DBSYNC_OK)
            return rc;
        break;
    }
    case DBSYNC_TYPE_DECIMAL: {
        int rc = decimal_canonical(text, column->precision, column->scale, out,
                                   DBSYNC__DEFAULT_BUFSIZE, why, whysize);
        if (rc != DBSYNC_OK)
            return rc;
        break;
    }
    case DBSYNC_TYPE_TEXT:
        if (column->length && utf8_chars(text) > column->length) {
            snprintf(why, whysize, "has %zu characters, more than the length %u", utf8_chars(text),
                     column->length);
            return DBSYNC_EINVALID;
        }
        *canon = text;
        return DBSYNC_OK;
    case DBSYNC_TYPE_DATE: {
        dbsync_date d;
        if (dbsync_date_parse(&d, text) != DBSYNC_OK || dbsync_date_format(out, &d) != DBSYNC_OK) {
            snprintf(why, whysize, "is not a valid date (YYYY-MM-DD)");
            return DBSYNC_EINVALID;
        }
        break;
    }
    case DBSYNC_TYPE_TIME: {
        dbsync_time t;
        if (dbsync_time_parse(&t, text) != DBSYNC_OK || dbsync_time_format(out, &t) != DBSYNC_OK) {
            snprintf(why, whysize, "is not a valid time (HH:MM:SS[.ffffff])");
            return DBSYNC_EINVALID;
        }
        break;
    }
    case DBSYNC_TYPE_DATETIME: {
        dbsync_datetime dt;
        if (dbsync_datetime_parse(&dt, text) != DBSYNC_OK ||
            dbsync_datetime_format(out, &dt) != DBSYNC_OK) {
            snprintf(why, whysize, "is not a valid datetime (YYYY-MM-DD HH:MM:SS[.ffffff])");
            return DBSYNC_EINVALID;
        }
        break;
    }
    case DBSYNC_TYPE_BLOB:
    default:
        snprintf(why, whysize, "is not allowed: a %s column cannot have a default",
                 dbsync_type_name(column->type));
        return DBSYNC_EINVALID;
    }
    *canon = out;
    return DBSYNC_OK;
}

/* ---- errors ---- */

int dbsync__schema_error(dbsync_error *err, const char *file, unsigned line, const char *fmt, ...)
{
    if (!err)
        return DBSYNC_EINVALID;
    char msg[DBSYNC_ERROR_MESSAGE_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (file && line)
        dbsync__error_set(err, DBSYNC_EINVALID, DBSYNC_ECLASS_SCHEMA, "%s:%u: %s", file, line, msg);
    else if (file)
        dbsync__error_set(err, DBSYNC_EINVALID, DBSYNC_ECLASS_SCHEMA, "%s: %s", file, msg);
    else
        dbsync__error_set(err, DBSYNC_EINVALID, DBSYNC_ECLASS_SCHEMA, "%s", msg);
    err->line = line;
    err->cause = 0;
    return DBSYNC_EINVALID;
}

/* " (first at line N)" or "" when the line is unknown; @p buf holds it. */
static const char *first_at(char *buf, size_t size, unsigned line)
{
    if (!line)
        return "";
    snprintf(buf, size, " (first at line %u)", line);
    return buf;
}

/* ---- rules ---- */

int dbsync__check_table_head(const dbsync_schema *s, size_t ti, dbsync_error *err)
{
    const dbsync_table *t = &s->tables[ti];
    char first[48];
    const char *problem = dbsync__name_problem(t->name, true);
    if (problem)
        return dbsync__schema_error(err, s->file, t->line, "table \"%.63s\": the name %s",
                                    t->name ? t->name : "", problem);
    for (size_t j = 0; j < ti; j++)
        if (!strcasecmp(s->tables[j].name, t->name))
            return dbsync__schema_error(err, s->file, t->line, "table \"%s\" is defined twice%s",
                                        t->name, first_at(first, sizeof first, s->tables[j].line));
    return DBSYNC_OK;
}

int dbsync__check_column(const dbsync_schema *s, size_t ti, size_t ci, dbsync_error *err)
{
    const dbsync_table *t = &s->tables[ti];
    const dbsync_column *c = &t->columns[ci];
    const char *f = s->file;
    unsigned line = c->line;
    char first[48];
    const char *problem = dbsync__name_problem(c->name, true);
    if (problem)
        return dbsync__schema_error(err, f, line, "column \"%.63s\" of table \"%s\": the name %s",
                                    c->name ? c->name : "", t->name, problem);
    for (size_t j = 0; j < ci; j++)
        if (!strcasecmp(t->columns[j].name, c->name))
            return dbsync__schema_error(err, f, line,
                                        "column \"%s\" of table \"%s\" is defined twice%s", c->name,
                                        t->name, first_at(first, sizeof first, t->columns[j].line));
    char prefix[160];
    snprintf(prefix, sizeof prefix, "column \"%s\" of table \"%s\": ", c->name, t->name);
    const char *type = dbsync_type_name(c->type);
    if (!dbsync__type_from_name(type))
        return dbsync__schema_error(err, f, line, "%sunknown type %d", prefix, (int)c->type);
    bool pk = c->flags & DBSYNC_COLUMN_PRIMARY_KEY;
    bool nullable = c->flags & DBSYNC_COLUMN_NULLABLE;
    if (pk && c->type != DBSYNC_TYPE_INTEGER)
        return dbsync__schema_error(
            err, f, line, "%sthe primary key must be of type integer, not %s", prefix, type);
    if (pk && nullable)
        return dbsync__schema_error(err, f, line, "%sa primary key cannot be nullable", prefix);
    if (c->length && c->type != DBSYNC_TYPE_TEXT)
        return dbsync__schema_error(err, f, line, "%slength is only allowed on text columns",
                                    prefix);
    if (c->type == DBSYNC_TYPE_DECIMAL) {
        if (c->precision == 0)
            return dbsync__schema_error(err, f, line,
                                        "%sa decimal column needs a precision (1 to 65)", prefix);
        if (c->precision > 65)
            return dbsync__schema_error(err, f, line, "%sprecision %u is larger than 65", prefix,
                                        c->precision);
        if (c->scale > 30)
            return dbsync__schema_error(err, f, line, "%sscale %u is larger than 30", prefix,
                                        c->scale);
        if (c->scale > c->precision)
            return dbsync__schema_error(err, f, line, "%sscale %u is larger than precision %u",
                                        prefix, c->scale, c->precision);
    } else if (c->precision || c->scale) {
        return dbsync__schema_error(
            err, f, line, "%sprecision and scale are only allowed on decimal columns", prefix);
    }
    if (c->ref_table < -1 || (c->ref_table >= 0 && (size_t)c->ref_table >= s->n_tables))
        return dbsync__schema_error(err, f, line, "%sreferences a table that does not exist",
                                    prefix);
    if ((unsigned)c->on_delete > DBSYNC_ON_DELETE_SET_NULL)
        return dbsync__schema_error(err, f, line, "%sunknown on-delete action %d", prefix,
                                    (int)c->on_delete);
    if (c->ref_table >= 0) {
        if (c->type != DBSYNC_TYPE_INTEGER)
            return dbsync__schema_error(
                err, f, line, "%sa column with references must be of type integer, not %s", prefix,
                type);
        const dbsync_table *parent = &s->tables[c->ref_table];
        if ((t->flags & DBSYNC_TABLE_SYNCED) && !(parent->flags & DBSYNC_TABLE_SYNCED))
            return dbsync__schema_error(err, f, line,
                                        "%sa synced table cannot reference the local-only table "
                                        "\"%s\": its rows never reach the server",
                                        prefix, parent->name);
        if (c->on_delete == DBSYNC_ON_DELETE_SET_NULL && !nullable)
            return dbsync__schema_error(err, f, line,
                                        "%son-delete=\"set-null\" needs a nullable column "
                                        "(this one is %s)",
                                        prefix, pk ? "the primary key" : "nullable=\"false\"");
    } else if (c->on_delete != DBSYNC_ON_DELETE_RESTRICT) {
        return dbsync__schema_error(err, f, line, "%son-delete is only allowed with references",
                                    prefix);
    }
    if (c->default_value) {
        if (pk)
            return dbsync__schema_error(err, f, line, "%sa primary key cannot have a default",
                                        prefix);
        if (c->type == DBSYNC_TYPE_BLOB)
            return dbsync__schema_error(err, f, line, "%sa blob column cannot have a default",
                                        prefix);
        char out[DBSYNC__DEFAULT_BUFSIZE], why[160];
        const char *canon;
        int rc = dbsync__default_canonical(c, c->default_value, out, &canon, why, sizeof why);
        if (rc == DBSYNC_ERROR)
            return dbsync__error_nomem(err);
        if (rc != DBSYNC_OK)
            return dbsync__schema_error(err, f, line, "%sdefault \"%.60s\" %s", prefix,
                                        c->default_value, why);
    }
    return DBSYNC_OK;
}

/* True when both keys hold the same columns, in the same order when
 * @p ordered, else in any order. Column lists hold no duplicate. */
static bool same_columns(const dbsync_key *a, const dbsync_key *b, bool ordered)
{
    if (a->n_columns != b->n_columns)
        return false;
    for (size_t i = 0; i < a->n_columns; i++) {
        if (ordered) {
            if (a->columns[i] != b->columns[i])
                return false;
            continue;
        }
        bool found = false;
        for (size_t j = 0; j < b->n_columns && !found; j++)
            found = a->columns[i] == b->columns[j];
        if (!found)
            return false;
    }
    return true;
}

static int check_keys(const dbsync_schema *s, const dbsync_table *t, const dbsync_key *keys,
                      size_t n, const char *kind, dbsync_error *err)
{
    for (size_t k = 0; k < n; k++) {
        const dbsync_key *key = &keys[k];
        unsigned line = key->line ? key->line : t->line;
        if (key->n_columns == 0 || !key->columns)
            return dbsync__schema_error(err, s->file, line, "%s of table \"%s\": no columns", kind,
                                        t->name);
        for (size_t i = 0; i < key->n_columns; i++) {
            if (key->columns[i] >= t->n_columns)
                return dbsync__schema_error(err, s->file, line,
                                            "%s of table \"%s\": column index %u out of range",
                                            kind, t->name, key->columns[i]);
            for (size_t j = 0; j < i; j++)
                if (key->columns[j] == key->columns[i])
                    return dbsync__schema_error(err, s->file, line,
                                                "%s of table \"%s\": column \"%s\" is listed twice",
                                                kind, t->name, t->columns[key->columns[i]].name);
        }
        /* The same unique constraint in another order is the same
         * constraint; an index in another order is another index. */
        bool ordered = strcmp(kind, "unique") != 0;
        for (size_t j = 0; j < k; j++)
            if (same_columns(&keys[j], key, ordered)) {
                char first[48];
                return dbsync__schema_error(err, s->file, line,
                                            "%s of table \"%s\": the same columns as another "
                                            "%s%s",
                                            kind, t->name, kind,
                                            first_at(first, sizeof first, keys[j].line));
            }
    }
    return DBSYNC_OK;
}

int dbsync__check_table_tail(const dbsync_schema *s, size_t ti, dbsync_error *err)
{
    const dbsync_table *t = &s->tables[ti];
    const char *f = s->file;
    if (t->n_columns == 0 || !t->columns)
        return dbsync__schema_error(err, f, t->line, "table \"%s\" has no columns", t->name);
    int pk = -1;
    for (size_t i = 0; i < t->n_columns; i++) {
        const dbsync_column *c = &t->columns[i];
        if (!(c->flags & DBSYNC_COLUMN_PRIMARY_KEY))
            continue;
        if (pk >= 0)
            return dbsync__schema_error(err, f, c->line,
                                        "table \"%s\": column \"%s\" is a second primary key "
                                        "(the first is \"%s\"; a table has exactly one)",
                                        t->name, c->name, t->columns[pk].name);
        pk = (int)i;
    }
    if (pk < 0)
        return dbsync__schema_error(err, f, t->line,
                                    "table \"%s\" has no primary key (mark one integer column "
                                    "primary-key=\"true\")",
                                    t->name);
    if (t->primary_key != (unsigned)pk)
        return dbsync__schema_error(err, f, t->line,
                                    "table \"%s\": primary_key is %u but column %d is the "
                                    "primary key",
                                    t->name, t->primary_key, pk);
    /* Generated structs hold `bool has_<col>` next to nullable columns whose
     * C type cannot say NULL: a column of that name would collide. */
    for (size_t i = 0; i < t->n_columns; i++) {
        const dbsync_column *h = &t->columns[i];
        if (strncasecmp(h->name, "has_", 4) != 0)
            continue;
        for (size_t j = 0; j < t->n_columns; j++) {
            const dbsync_column *c = &t->columns[j];
            if ((c->flags & DBSYNC_COLUMN_NULLABLE) && dbsync__type_has_flag(c->type) &&
                !strcasecmp(h->name + 4, c->name))
                return dbsync__schema_error(err, f, h->line,
                                            "column \"%s\" of table \"%s\": the name collides with "
                                            "the flag has_%s that generated code adds for the "
                                            "nullable column \"%s\"",
                                            h->name, t->name, c->name, c->name);
        }
    }
    int rc = check_keys(s, t, t->uniques, t->n_uniques, "unique", err);
    if (rc == DBSYNC_OK)
        rc = check_keys(s, t, t->indexes, t->n_indexes, "index", err);
    return rc;
}

/* ---- key names ---- */

typedef struct name_set {
    const char **names;
    size_t n, cap;
} name_set;

static bool name_set_has(const name_set *set, const char *name)
{
    for (size_t i = 0; i < set->n; i++)
        if (!strcasecmp(set->names[i], name))
            return true;
    return false;
}

static bool name_set_add(name_set *set, const char *name)
{
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 32;
        const char **p = realloc(set->names, cap * sizeof *p);
        if (!p)
            return false;
        set->names = p;
        set->cap = cap;
    }
    set->names[set->n++] = name;
    return true;
}

/* The name of a key: the full name when it fits and is free; else the first
 * 54 bytes of it, "_" and 8 hex digits of a hash (of the full name; on a
 * clash, of table and column list, which differ between any two keys). */
static int name_key(dbsync_key *key, const dbsync_table *t, const char *suffix, name_set *used,
                    dbsync__arena *arena)
{
    dbsync__buf full = DBSYNC__BUF_INIT, id = DBSYNC__BUF_INIT;
    int rc = DBSYNC_ERROR;
    dbsync__buf_puts(&full, t->name);
    dbsync__buf_printf(&id, "%s\n", t->name);
    for (size_t i = 0; i < key->n_columns; i++) {
        dbsync__buf_printf(&full, "_%s", t->columns[key->columns[i]].name);
        dbsync__buf_printf(&id, "%s%s", i ? "," : "", t->columns[key->columns[i]].name);
    }
    dbsync__buf_printf(&full, "_%s", suffix);
    dbsync__buf_printf(&id, "\n%s", suffix);
    if (full.oom || id.oom)
        goto done;
    char name[64];
    for (int attempt = 0; attempt < 2; attempt++) {
        if (attempt == 0 && full.len <= 63) {
            memcpy(name, full.data, full.len + 1);
        } else {
            uint32_t h = dbsync__fnv1a(attempt ? id.data : full.data, DBSYNC__FNV1A_SEED);
            size_t keep = full.len < 54 ? full.len : 54;
            snprintf(name, sizeof name, "%.*s_%08" PRIx32, (int)keep, full.data, h);
        }
        if (name_set_has(used, name))
            continue;
        char *copy = dbsync__arena_strdup(arena, name);
        if (!copy || !name_set_add(used, copy))
            goto done;
        key->name = copy;
        rc = DBSYNC_OK;
        goto done;
    }
    rc = DBSYNC_EINVALID;
done:
    dbsync__buf_free(&full);
    dbsync__buf_free(&id);
    return rc;
}

int dbsync__schema_name_keys(dbsync_schema *schema, dbsync__arena *arena, dbsync_error *err)
{
    name_set used = {NULL, 0, 0};
    int rc = DBSYNC_OK;
    for (size_t ti = 0; ti < schema->n_tables && rc == DBSYNC_OK; ti++)
        if (!name_set_add(&used, schema->tables[ti].name))
            rc = DBSYNC_ERROR;
    for (size_t ti = 0; ti < schema->n_tables && rc == DBSYNC_OK; ti++) {
        const dbsync_table *t = &schema->tables[ti];
        for (int kind = 0; kind < 2 && rc == DBSYNC_OK; kind++) {
            size_t n = kind ? t->n_indexes : t->n_uniques;
            dbsync_key *keys = (dbsync_key *)(kind ? t->indexes : t->uniques);
            for (size_t k = 0; k < n && rc == DBSYNC_OK; k++) {
                rc = name_key(&keys[k], t, kind ? "idx" : "key", &used, arena);
                if (rc == DBSYNC_EINVALID)
                    dbsync__schema_error(err, schema->file, keys[k].line,
                                         "%s of table \"%s\": no distinct name can be derived "
                                         "from the table and column names (rename one)",
                                         kind ? "index" : "unique", t->name);
            }
        }
    }
    free(used.names);
    if (rc == DBSYNC_ERROR)
        return dbsync__error_nomem(err);
    return rc;
}

/* Key names: present, at most 63 bytes, distinct from each other and from
 * table names, ignoring case (PostgreSQL puts them in one namespace). */
static int check_key_names(const dbsync_schema *s, dbsync_error *err)
{
    name_set used = {NULL, 0, 0};
    int rc = DBSYNC_OK;
    for (size_t ti = 0; ti < s->n_tables && rc == DBSYNC_OK; ti++)
        if (!name_set_add(&used, s->tables[ti].name))
            rc = DBSYNC_ERROR;
    for (size_t ti = 0; ti < s->n_tables && rc == DBSYNC_OK; ti++) {
        const dbsync_table *t = &s->tables[ti];
        for (int kind = 0; kind < 2 && rc == DBSYNC_OK; kind++) {
            size_t n = kind ? t->n_indexes : t->n_uniques;
            const dbsync_key *keys = kind ? t->indexes : t->uniques;
            const char *what = kind ? "index" : "unique";
            for (size_t k = 0; k < n && rc == DBSYNC_OK; k++) {
                const dbsync_key *key = &keys[k];
                unsigned line = key->line ? key->line : t->line;
                if (!key->name || !*key->name || strlen(key->name) > 63)
                    rc = dbsync__schema_error(err, s->file, line,
                                              "%s of table \"%s\": its name is missing or "
                                              "longer than 63 bytes",
                                              what, t->name);
                else if (name_set_has(&used, key->name))
                    rc = dbsync__schema_error(err, s->file, line,
                                              "%s of table \"%s\": its name \"%s\" is taken", what,
                                              t->name, key->name);
                else if (!name_set_add(&used, key->name))
                    rc = DBSYNC_ERROR;
            }
        }
    }
    free(used.names);
    if (rc == DBSYNC_ERROR)
        return dbsync__error_nomem(err);
    return rc;
}

int dbsync__schema_check(const dbsync_schema *s, dbsync_error *err)
{
    if (!s)
        return dbsync__error_set(err, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG, "no schema");
    if (s->magic != DBSYNC_SCHEMA_MAGIC)
        return dbsync__schema_error(err, s->file, 0,
                                    "not a schema descriptor (bad magic number; was it generated "
                                    "by another version of dbsync-codegen?)");
    const char *problem = dbsync__name_problem(s->name, false);
    if (problem)
        return dbsync__schema_error(err, s->file, 0, "schema \"%.63s\": the name %s",
                                    s->name ? s->name : "", problem);
    if (s->n_tables == 0 || !s->tables)
        return dbsync__schema_error(err, s->file, 0, "schema \"%s\" has no tables", s->name);
    int rc = DBSYNC_OK;
    for (size_t ti = 0; ti < s->n_tables && rc == DBSYNC_OK; ti++) {
        const dbsync_table *t = &s->tables[ti];
        rc = dbsync__check_table_head(s, ti, err);
        if (rc == DBSYNC_OK && (t->n_columns == 0 || !t->columns))
            rc =
                dbsync__schema_error(err, s->file, t->line, "table \"%s\" has no columns", t->name);
        for (size_t ci = 0; ci < t->n_columns && rc == DBSYNC_OK; ci++)
            rc = dbsync__check_column(s, ti, ci, err);
        if (rc == DBSYNC_OK)
            rc = dbsync__check_table_tail(s, ti, err);
    }
    if (rc == DBSYNC_OK)
        rc = check_key_names(s, err);
    return rc;
}
