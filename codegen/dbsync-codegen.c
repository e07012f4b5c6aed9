/* SPDX-License-Identifier: MIT */
/*
 * dbsync-codegen: turns a schema file into NAME.h and NAME.c, a row struct,
 * an _INIT macro and thin typed accessors per table, plus the constant
 * descriptor the runtime works from (the protobuf-c split).
 *
 * Invariants: the schema is validated by the runtime's own loader, never
 * here; the emitted descriptor is the loaded model copied field by field
 * (layout fields aside), so generated code and a schema loaded at run time
 * behave the same. Checks made here are only those of C itself: names that
 * would not compile or would clash once turned into C identifiers. Output
 * files appear whole or not at all (temporary file + rename).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "schema_internal.h"

#define PROG "dbsync-codegen"

/* String literals longer than this draw -Woverlength-strings under -pedantic
 * (C11 promises 4095 characters); longer text defaults become char arrays. */
#define MAX_LITERAL 4000

/* ---- small helpers ---- */

static void die_nomem(void)
{
    fprintf(stderr, PROG ": out of memory\n");
    exit(1);
}

static char *xstrdup(const char *s)
{
    char *p = dbsync__strdup(s);
    if (!p)
        die_nomem();
    return p;
}

static char *fmt(const char *f, ...) DBSYNC__PRINTF(1, 2);

static char *fmt(const char *f, ...)
{
    va_list ap;
    char small[512];
    va_start(ap, f);
    int n = vsnprintf(small, sizeof small, f, ap);
    va_end(ap);
    if (n < 0)
        die_nomem();
    if ((size_t)n < sizeof small)
        return xstrdup(small);
    char *p = malloc((size_t)n + 1);
    if (!p)
        die_nomem();
    va_start(ap, f);
    vsnprintf(p, (size_t)n + 1, f, ap);
    va_end(ap);
    return p;
}

static char *upper(const char *s)
{
    char *p = xstrdup(s);
    for (char *q = p; *q; q++)
        *q = (char)toupper((unsigned char)*q);
    return p;
}

/* Appends @p s as a C string literal. Bytes outside printable ASCII become
 * three-digit octal escapes, so the output is plain ASCII whatever the
 * compiler's input charset, and a following digit is never swallowed. A '?'
 * after a '?' is escaped so no trigraph can form. */
static void put_literal(dbsync__buf *b, const char *s)
{
    dbsync__buf_putc(b, '"');
    char prev = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            dbsync__buf_putc(b, '\\');
            dbsync__buf_putc(b, (char)c);
        } else if (c == '?' && prev == '?') {
            dbsync__buf_puts(b, "\\?");
        } else if (c < 0x20 || c >= 0x7f) {
            dbsync__buf_printf(b, "\\%03o", (unsigned)c);
        } else {
            dbsync__buf_putc(b, (char)c);
        }
        prev = (char)c;
    }
    dbsync__buf_putc(b, '"');
}

/* The width of byte @p c once escaped by put_literal(). */
static size_t escaped_width(unsigned char c)
{
    if (c == '"' || c == '\\' || c == '?')
        return 2;
    return c < 0x20 || c >= 0x7f ? 4 : 1;
}

/* Appends " " and @p s as a literal; a long text becomes adjacent literals,
 * one per line, cut after the text's line breaks and at about 80 columns. */
static void put_literal_lines(dbsync__buf *b, const char *s)
{
    size_t total = 0;
    for (const char *p = s; *p; p++)
        total += escaped_width((unsigned char)*p);
    if (total <= 80 && !strchr(s, '\n')) {
        dbsync__buf_putc(b, ' ');
        put_literal(b, s);
        return;
    }
    const char *start = s;
    size_t width = 0;
    for (const char *p = s; *p; p++) {
        width += escaped_width((unsigned char)*p);
        if ((*p == '\n' || width >= 80 || !p[1])) {
            char *chunk = dbsync__strndup(start, (size_t)(p + 1 - start));
            if (!chunk)
                die_nomem();
            dbsync__buf_puts(b, "\n    ");
            put_literal(b, chunk);
            free(chunk);
            start = p + 1;
            width = 0;
        }
    }
}

/* Appends @p s for use inside a comment: no comment start or end (-Wcomment),
 * no line breaks. */
static void put_comment_text(dbsync__buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p == '*' && p[1] == '/') || (*p == '/' && p[1] == '*'))
            dbsync__buf_printf(b, "%c ", *p);
        else if (*p < 0x20 || *p == 0x7f)
            dbsync__buf_putc(b, '?');
        else
            dbsync__buf_putc(b, (char)*p);
    }
}

/* Appends text made of lines ending in '\n' as the body of a macro: every
 * line but the last gets a backslash, all backslashes in one column. */
static void put_macro(dbsync__buf *b, const char *text)
{
    size_t width = 0;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = (size_t)(nl - p);
        if (n > width)
            width = n;
        p = nl + 1;
    }
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = (size_t)(nl - p);
        dbsync__buf_append(b, p, n);
        if (nl[1]) {
            for (size_t i = n; i < width + 1; i++)
                dbsync__buf_putc(b, ' ');
            dbsync__buf_putc(b, '\\');
        }
        dbsync__buf_putc(b, '\n');
        p = nl + 1;
    }
}

/* Appends the words of @p text to b, wrapped at 100 columns; each line
 * starts with @p lead, continuation lines with @p cont. */
static void put_wrapped(dbsync__buf *b, const char *text, const char *lead, const char *cont)
{
    size_t col = strlen(lead);
    dbsync__buf_puts(b, lead);
    bool first = true;
    for (const char *p = text; *p;) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        const char *e = p;
        while (*e && *e != ' ')
            e++;
        size_t w = (size_t)(e - p);
        if (!first && col + 1 + w > 100) {
            dbsync__buf_printf(b, "\n%s", cont);
            col = strlen(cont);
        } else if (!first) {
            dbsync__buf_putc(b, ' ');
            col++;
        }
        dbsync__buf_append(b, p, w);
        col += w;
        first = false;
        p = e;
    }
    dbsync__buf_putc(b, '\n');
}

/* A doc comment: a wrapped paragraph, then "@return ..." when @p ret is set
 * (a one-line comment when everything fits). */
static void put_doc(dbsync__buf *b, const char *text, const char *ret)
{
    dbsync__buf_putc(b, '\n');
    if (!ret && strlen(text) + 7 <= 100) {
        dbsync__buf_printf(b, "/** %s */\n", text);
        return;
    }
    dbsync__buf_puts(b, "/**\n");
    put_wrapped(b, text, " * ", " * ");
    if (ret)
        put_wrapped(b, ret, " * @return ", " *         ");
    dbsync__buf_puts(b, " */\n");
}

/* Appends a prototype (taking ownership of @p proto), broken after commas of
 * the parameter list when longer than 100 columns. */
static void put_proto(dbsync__buf *b, char *proto)
{
    if (strlen(proto) <= 100) {
        dbsync__buf_printf(b, "%s\n", proto);
        free(proto);
        return;
    }
    const char *open = strchr(proto, '(');
    size_t indent = (size_t)(open - proto) + 1;
    size_t col = 0;
    for (const char *p = proto; *p;) {
        const char *comma = strstr(p, ", ");
        const char *e = comma ? comma + 1 : p + strlen(p);
        size_t w = (size_t)(e - p);
        if (col > indent && col + 1 + w > 100) {
            dbsync__buf_putc(b, '\n');
            for (size_t i = 0; i < indent; i++)
                dbsync__buf_putc(b, ' ');
            col = indent;
        } else if (col) {
            dbsync__buf_putc(b, ' ');
            col++;
        }
        dbsync__buf_append(b, p, w);
        col += w;
        p = comma ? comma + 2 : e;
    }
    dbsync__buf_putc(b, '\n');
    free(proto);
}

/* ---- the model seen from C ---- */

static bool is_text_like(dbsync_type t)
{
    return t == DBSYNC_TYPE_TEXT || t == DBSYNC_TYPE_DECIMAL;
}

static bool is_pk(const dbsync_table *t, size_t i)
{
    return i == t->primary_key;
}

/* True when the column gets a bool has_COL field: nullable columns whose C
 * type has no NULL of its own. */
static bool has_flag(const dbsync_table *t, size_t i)
{
    const dbsync_column *c = &t->columns[i];
    if (is_pk(t, i) || !(c->flags & DBSYNC_COLUMN_NULLABLE))
        return false;
    return dbsync__type_has_flag(c->type);
}

static const char *field_type(dbsync_type t)
{
    switch (t) {
    case DBSYNC_TYPE_INTEGER:
        return "int64_t";
    case DBSYNC_TYPE_BOOLEAN:
        return "bool";
    case DBSYNC_TYPE_REAL:
        return "double";
    case DBSYNC_TYPE_DECIMAL:
        return "char *";
    case DBSYNC_TYPE_TEXT:
        return "char *";
    case DBSYNC_TYPE_BLOB:
        return "dbsync_blob";
    case DBSYNC_TYPE_DATE:
        return "dbsync_date";
    case DBSYNC_TYPE_TIME:
        return "dbsync_time";
    case DBSYNC_TYPE_DATETIME:
        return "dbsync_datetime";
    }
    return NULL;
}

/* The type of a find_by parameter: text is taken as const char *. */
static const char *param_type(dbsync_type t)
{
    return is_text_like(t) ? "const char *" : field_type(t);
}

static const char *type_enum(dbsync_type t)
{
    switch (t) {
    case DBSYNC_TYPE_INTEGER:
        return "DBSYNC_TYPE_INTEGER";
    case DBSYNC_TYPE_BOOLEAN:
        return "DBSYNC_TYPE_BOOLEAN";
    case DBSYNC_TYPE_REAL:
        return "DBSYNC_TYPE_REAL";
    case DBSYNC_TYPE_DECIMAL:
        return "DBSYNC_TYPE_DECIMAL";
    case DBSYNC_TYPE_TEXT:
        return "DBSYNC_TYPE_TEXT";
    case DBSYNC_TYPE_BLOB:
        return "DBSYNC_TYPE_BLOB";
    case DBSYNC_TYPE_DATE:
        return "DBSYNC_TYPE_DATE";
    case DBSYNC_TYPE_TIME:
        return "DBSYNC_TYPE_TIME";
    case DBSYNC_TYPE_DATETIME:
        return "DBSYNC_TYPE_DATETIME";
    }
    return NULL;
}

static const char *on_delete_enum(dbsync_on_delete d)
{
    switch (d) {
    case DBSYNC_ON_DELETE_RESTRICT:
        return "DBSYNC_ON_DELETE_RESTRICT";
    case DBSYNC_ON_DELETE_CASCADE:
        return "DBSYNC_ON_DELETE_CASCADE";
    case DBSYNC_ON_DELETE_SET_NULL:
        return "DBSYNC_ON_DELETE_SET_NULL";
    }
    return NULL;
}

/* Flags as an expression of the public macros; unknown bits in hex. */
static void put_flags(dbsync__buf *b, unsigned flags, const char *const names[],
                      const unsigned bits[], size_t n)
{
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        if (flags & bits[i]) {
            dbsync__buf_printf(b, "%s%s", any ? " | " : "", names[i]);
            flags &= ~bits[i];
            any = true;
        }
    }
    if (flags)
        dbsync__buf_printf(b, "%s0x%xu", any ? " | " : "", flags);
    else if (!any)
        dbsync__buf_putc(b, '0');
}

static void put_column_flags(dbsync__buf *b, unsigned flags)
{
    static const char *const names[] = {"DBSYNC_COLUMN_PRIMARY_KEY", "DBSYNC_COLUMN_NULLABLE"};
    static const unsigned bits[] = {DBSYNC_COLUMN_PRIMARY_KEY, DBSYNC_COLUMN_NULLABLE};
    put_flags(b, flags, names, bits, 2);
}

static void put_table_flags(dbsync__buf *b, unsigned flags)
{
    static const char *const names[] = {"DBSYNC_TABLE_SYNCED"};
    static const unsigned bits[] = {DBSYNC_TABLE_SYNCED};
    put_flags(b, flags, names, bits, 1);
}

/* A short description of a column for field comments: "decimal(30,10), not null". */
static void put_column_summary(dbsync__buf *b, const dbsync_schema *s, const dbsync_table *t,
                               size_t i)
{
    const dbsync_column *c = &t->columns[i];
    dbsync__buf_puts(b, dbsync_type_name(c->type));
    if (c->type == DBSYNC_TYPE_DECIMAL)
        dbsync__buf_printf(b, "(%u,%u)", c->precision, c->scale);
    if (c->type == DBSYNC_TYPE_TEXT && c->length)
        dbsync__buf_printf(b, "(%u)", c->length);
    if (is_pk(t, i)) {
        dbsync__buf_puts(b, ", primary key: 0 on insert lets the database assign it");
        return;
    }
    if (!(c->flags & DBSYNC_COLUMN_NULLABLE))
        dbsync__buf_puts(b, ", not null");
    else if (is_text_like(c->type))
        dbsync__buf_puts(b, ", NULL: SQL NULL");
    else if (c->type == DBSYNC_TYPE_BLOB)
        dbsync__buf_puts(b, ", data NULL: SQL NULL");
    if (c->ref_table >= 0 && (size_t)c->ref_table < s->n_tables)
        dbsync__buf_printf(b, ", references %s", s->tables[c->ref_table].name);
}

/* ---- the generator ---- */

typedef struct name_entry {
    char *name;
    char *owner; /* what it was generated for, for messages */
    unsigned line;
} name_entry;

typedef struct gen {
    const dbsync_schema *schema;
    const char *file;   /* the schema file as given */
    char *schema_upper; /* NAME in capitals */
    name_entry *names;  /* every identifier the output defines */
    size_t n_names, cap_names;
    char error[1024]; /* the first problem found */
} gen;

static void add_name(gen *g, char *name, char *owner, unsigned line)
{
    if (g->n_names == g->cap_names) {
        size_t cap = g->cap_names ? 2 * g->cap_names : 64;
        name_entry *p = realloc(g->names, cap * sizeof *p);
        if (!p)
            die_nomem();
        g->names = p;
        g->cap_names = cap;
    }
    g->names[g->n_names++] = (name_entry){name, owner, line};
}

static int name_cmp(const void *a, const void *b)
{
    const name_entry *x = a, *y = b;
    int r = strcmp(x->name, y->name);
    if (r)
        return r;
    return x->line < y->line ? -1 : x->line > y->line;
}

static int fail(gen *g, unsigned line, const char *f, ...) DBSYNC__PRINTF(3, 4);

static int fail(gen *g, unsigned line, const char *f, ...)
{
    char msg[800];
    va_list ap;
    va_start(ap, f);
    vsnprintf(msg, sizeof msg, f, ap);
    va_end(ap);
    if (line)
        snprintf(g->error, sizeof g->error, "%s:%u: %s", g->file, line, msg);
    else
        snprintf(g->error, sizeof g->error, "%s: %s", g->file, msg);
    return -1;
}

/* Words that cannot name a struct field or parameter: the C11 keywords and the
 * macros of the standard headers the generated code includes. */
static const char *const c_reserved[] = {
    "auto",     "break",    "case",         "char",          "const",
    "continue", "default",  "do",           "double",        "else",
    "enum",     "extern",   "float",        "for",           "goto",
    "if",       "inline",   "int",          "long",          "register",
    "restrict", "return",   "short",        "signed",        "sizeof",
    "static",   "struct",   "switch",       "typedef",       "union",
    "unsigned", "void",     "volatile",     "while",         "bool",
    "true",     "false",    "NULL",         "offsetof",      "asm",
    "typeof",   "errno",    "assert",       "static_assert", "alignas",
    "alignof",  "noreturn", "thread_local", "complex",       "imaginary",
    "I",
};

/* True for the macros of <stdint.h>: INT64_MAX, UINT8_C, INT_LEAST16_MIN,
 * INTPTR_MAX, SIZE_MAX, ... */
static bool stdint_macro(const char *s)
{
    static const char *const others[] = {"SIZE_MAX",       "PTRDIFF_MIN",    "PTRDIFF_MAX",
                                         "SIG_ATOMIC_MIN", "SIG_ATOMIC_MAX", "WCHAR_MIN",
                                         "WCHAR_MAX",      "WINT_MIN",       "WINT_MAX"};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        if (!strcmp(s, others[i]))
            return true;
    const char *p = s;
    if (*p == 'U')
        p++;
    if (strncmp(p, "INT", 3))
        return false;
    p += 3;
    if (!strncmp(p, "_LEAST", 6))
        p += 6;
    else if (!strncmp(p, "_FAST", 5))
        p += 5;
    else if (!strncmp(p, "PTR", 3))
        p += 3;
    else if (!strncmp(p, "MAX", 3) && p[3] == '_')
        p += 3;
    while (isdigit((unsigned char)*p))
        p++;
    return !strcmp(p, "_MAX") || !strcmp(p, "_MIN") || !strcmp(p, "_C");
}

static bool c_reserved_word(const char *s)
{
    for (size_t i = 0; i < sizeof c_reserved / sizeof c_reserved[0]; i++)
        if (!strcmp(s, c_reserved[i]))
            return true;
    /* _Bool, _Atomic, ...: reserved for the implementation */
    if (s[0] == '_' && (isupper((unsigned char)s[1]) || s[1] == '_'))
        return true;
    return stdint_macro(s);
}

/* Names the generated code cannot define: the library's namespace and the
 * typedefs of <stdint.h> and <stddef.h>. */
static bool taken_global(const char *s)
{
    if (!strncmp(s, "dbsync_", 7) || !strncmp(s, "DBSYNC_", 7))
        return true;
    size_t n = strlen(s);
    if (n > 2 && !strcmp(s + n - 2, "_t")) {
        static const char *const t[] = {"size_t", "ptrdiff_t", "wchar_t", "max_align_t"};
        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
            if (!strcmp(s, t[i]))
                return true;
        const char *p = s;
        if (*p == 'u')
            p++;
        if (!strncmp(p, "int", 3))
            return true; /* intN_t, int_leastN_t, intptr_t, intmax_t, ... */
    }
    return c_reserved_word(s);
}

static char *key_suffix(const dbsync_table *t, const dbsync_key *k)
{
    dbsync__buf b = DBSYNC__BUF_INIT;
    for (size_t i = 0; i < k->n_columns; i++)
        dbsync__buf_printf(&b, "%s%s", i ? "_" : "", t->columns[k->columns[i]].name);
    char *s = dbsync__buf_take(&b);
    if (!s)
        die_nomem();
    return s;
}

/* The columns of a key as the schema file lists them: "a b_c". */
static char *key_list(const dbsync_table *t, const dbsync_key *k)
{
    dbsync__buf b = DBSYNC__BUF_INIT;
    for (size_t i = 0; i < k->n_columns; i++)
        dbsync__buf_printf(&b, "%s%s", i ? " " : "", t->columns[k->columns[i]].name);
    char *s = dbsync__buf_take(&b);
    if (!s)
        die_nomem();
    return s;
}

/* Registers every identifier the output defines and checks that none clashes
 * with another or with a name C or the library already uses. */
static int check_names(gen *g)
{
    const dbsync_schema *s = g->schema;
    const char *n = s->name;
    add_name(g, fmt("%s_schema", n), fmt("schema \"%s\"", n), 0);
    add_name(g, fmt("%s__tables", n), fmt("schema \"%s\"", n), 0);
    add_name(g, fmt("%s_H_GENERATED", g->schema_upper), fmt("schema \"%s\"", n), 0);
    for (size_t ti = 0; ti < s->n_tables; ti++) {
        const dbsync_table *t = &s->tables[ti];
        static const char *const verbs[] = {"",          "_insert",    "_update", "_delete", "_get",
                                            "_iter_new", "_iter_next", "_clear",  "_table"};
        for (size_t v = 0; v < sizeof verbs / sizeof verbs[0]; v++)
            add_name(g, fmt("%s_%s%s", n, t->name, verbs[v]), fmt("table \"%s\"", t->name),
                     t->line);
        char *up = upper(t->name);
        add_name(g, fmt("%s_%s_INIT", g->schema_upper, up), fmt("table \"%s\"", t->name), t->line);
        free(up);
        add_name(g, fmt("%s__%s__columns", n, t->name), fmt("table \"%s\"", t->name), t->line);
        add_name(g, fmt("%s__%s__uniques", n, t->name), fmt("table \"%s\"", t->name), t->line);
        add_name(g, fmt("%s__%s__indexes", n, t->name), fmt("table \"%s\"", t->name), t->line);
        for (size_t k = 0; k < t->n_uniques; k++) {
            char *suffix = key_suffix(t, &t->uniques[k]);
            char *list = key_list(t, &t->uniques[k]);
            add_name(g, fmt("%s_%s_find_by_%s", n, t->name, suffix),
                     fmt("unique \"%s\" of table \"%s\"", list, t->name), t->uniques[k].line);
            add_name(g, fmt("%s__%s__unique_%zu", n, t->name, k),
                     fmt("unique \"%s\" of table \"%s\"", list, t->name), t->uniques[k].line);
            free(list);
            free(suffix);
        }
        for (size_t k = 0; k < t->n_indexes; k++)
            add_name(g, fmt("%s__%s__index_%zu", n, t->name, k),
                     fmt("index of table \"%s\"", t->name), t->indexes[k].line);
        for (size_t ci = 0; ci < t->n_columns; ci++) {
            const dbsync_column *c = &t->columns[ci];
            if (c_reserved_word(c->name))
                return fail(g, c->line,
                            "column \"%s\" of table \"%s\": the name is reserved in C and "
                            "cannot name a field of generated code",
                            c->name, t->name);
            if (c->default_value && is_text_like(c->type))
                add_name(g, fmt("%s__%s__%s__default", n, t->name, c->name),
                         fmt("column \"%s.%s\"", t->name, c->name), c->line);
        }
    }
    for (size_t i = 0; i < g->n_names; i++)
        if (taken_global(g->names[i].name))
            return fail(g, g->names[i].line,
                        "%s: the generated name \"%s\" is reserved by C or by dbsync; rename the "
                        "%s",
                        g->names[i].owner, g->names[i].name, g->names[i].line ? "table" : "schema");
    qsort(g->names, g->n_names, sizeof *g->names, name_cmp);
    for (size_t i = 1; i < g->n_names; i++) {
        const name_entry *a = &g->names[i - 1], *b = &g->names[i];
        if (strcmp(a->name, b->name))
            continue;
        if (a->line)
            return fail(g, b->line,
                        "%s: the generated name \"%s\" is also generated for %s at line %u; "
                        "rename one of them",
                        b->owner, b->name, a->owner, a->line);
        return fail(g, b->line,
                    "%s: the generated name \"%s\" is also generated for %s; rename "
                    "one of them",
                    b->owner, b->name, a->owner);
    }
    /* A column named like a generated macro would be expanded inside the struct. */
    for (size_t ti = 0; ti < s->n_tables; ti++) {
        const dbsync_table *t = &s->tables[ti];
        for (size_t ci = 0; ci < t->n_columns; ci++) {
            const char *cn = t->columns[ci].name;
            for (size_t i = 0; i < g->n_names; i++) {
                const char *nm = g->names[i].name;
                size_t l = strlen(nm);
                bool macro = (l > 5 && !strcmp(nm + l - 5, "_INIT")) ||
                             (l > 12 && !strcmp(nm + l - 12, "_H_GENERATED"));
                if (macro && !strcmp(nm, cn))
                    return fail(g, t->columns[ci].line,
                                "column \"%s\" of table \"%s\": the name is also a generated "
                                "macro; rename it",
                                cn, t->name);
            }
        }
    }
    return 0;
}

static void free_names(gen *g)
{
    for (size_t i = 0; i < g->n_names; i++) {
        free(g->names[i].name);
        free(g->names[i].owner);
    }
    free(g->names);
    g->names = NULL;
    g->n_names = g->cap_names = 0;
}

/* ---- defaults ---- */

/* The C initializer of a column's value in the _INIT macro: its default, or
 * zero / NULL. Writes into b; returns -1 (with g->error) when the default
 * cannot be expressed in C. */
static int put_init_value(gen *g, dbsync__buf *b, const dbsync_table *t, size_t ci)
{
    const dbsync_column *c = &t->columns[ci];
    const char *n = g->schema->name;
    dbsync_value v;
    memset(&v, 0, sizeof v);
    if (c->default_value && !is_text_like(c->type)) {
        dbsync_error err;
        memset(&err, 0, sizeof err);
        if (dbsync_value_parse(&v, t, c, c->default_value, &err) != DBSYNC_OK)
            return fail(g, c->line, "column \"%s\" of table \"%s\": default: %s", c->name, t->name,
                        err.message);
    }
    bool def = c->default_value != NULL;
    switch (c->type) {
    case DBSYNC_TYPE_INTEGER:
        if (!def)
            dbsync__buf_puts(b, "0");
        else if (v.u.i == INT64_MIN)
            dbsync__buf_puts(b, "INT64_MIN");
        else if (v.u.i == INT64_MAX)
            dbsync__buf_puts(b, "INT64_MAX");
        else
            dbsync__buf_printf(b, "INT64_C(%lld)", (long long)v.u.i);
        break;
    case DBSYNC_TYPE_BOOLEAN:
        dbsync__buf_puts(b, def && v.u.b ? "true" : "false");
        break;
    case DBSYNC_TYPE_REAL: {
        if (!def) {
            dbsync__buf_puts(b, "0.0");
            break;
        }
        /* the shortest form that reads back as the same double */
        char num[64];
        for (int digits = 15; digits <= 17; digits++) {
            snprintf(num, sizeof num, "%.*g", digits, v.u.r);
            if (strtod(num, NULL) == v.u.r)
                break;
        }
        dbsync__buf_puts(b, num);
        if (!strpbrk(num, ".eE"))
            dbsync__buf_puts(b, ".0");
        break;
    }
    case DBSYNC_TYPE_DECIMAL:
    case DBSYNC_TYPE_TEXT:
        if (def)
            dbsync__buf_printf(b, "(char *)%s__%s__%s__default", n, t->name, c->name);
        else
            dbsync__buf_puts(b, "NULL");
        break;
    case DBSYNC_TYPE_BLOB:
        if (def) {
            dbsync_value_clear(&v);
            /* A static blob in a row would be freed by dbsync_struct_clear(). */
            return fail(g, c->line,
                        "column \"%s\" of table \"%s\": generated code cannot give a blob "
                        "column a default",
                        c->name, t->name);
        }
        dbsync__buf_puts(b, "{NULL, 0}");
        break;
    case DBSYNC_TYPE_DATE:
        if (def)
            dbsync__buf_printf(b, "{%d, %u, %u}", v.u.date.year, v.u.date.month, v.u.date.day);
        else
            dbsync__buf_puts(b, "{0, 0, 0}");
        break;
    case DBSYNC_TYPE_TIME:
        if (def)
            dbsync__buf_printf(b, "{%u, %u, %u, %lu}", v.u.time.hour, v.u.time.minute,
                               v.u.time.second, (unsigned long)v.u.time.usec);
        else
            dbsync__buf_puts(b, "{0, 0, 0, 0}");
        break;
    case DBSYNC_TYPE_DATETIME:
        if (def) {
            const dbsync_datetime *d = &v.u.datetime;
            dbsync__buf_printf(b, "{{%d, %u, %u}, {%u, %u, %u, %lu}}", d->date.year, d->date.month,
                               d->date.day, d->time.hour, d->time.minute, d->time.second,
                               (unsigned long)d->time.usec);
        } else {
            dbsync__buf_puts(b, "{{0, 0, 0}, {0, 0, 0, 0}}");
        }
        break;
    }
    return 0;
}

/* Emits the definition (or declaration) of a text default object. */
static void put_default_object(gen *g, dbsync__buf *b, const dbsync_table *t,
                               const dbsync_column *c, bool define)
{
    dbsync__buf_printf(b, "%sconst char %s__%s__%s__default[]", define ? "" : "extern ",
                       g->schema->name, t->name, c->name);
    if (!define) {
        dbsync__buf_puts(b, ";\n");
        return;
    }
    const char *s = c->default_value;
    size_t len = strlen(s);
    if (len <= MAX_LITERAL) {
        dbsync__buf_puts(b, " =");
        put_literal_lines(b, s);
        dbsync__buf_puts(b, ";\n");
        return;
    }
    /* Character constants: their value is that of a char whether char is
     * signed or not. */
    dbsync__buf_puts(b, " = {");
    for (size_t i = 0; i <= len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (i % 12 == 0)
            dbsync__buf_puts(b, "\n   ");
        if (ch == '\'' || ch == '\\')
            dbsync__buf_printf(b, " '\\%c',", ch);
        else if (ch >= 0x20 && ch < 0x7f)
            dbsync__buf_printf(b, " '%c',", ch);
        else
            dbsync__buf_printf(b, " '\\%03o',", (unsigned)ch);
    }
    dbsync__buf_puts(b, "\n};\n");
}

/* ---- the header ---- */

static void put_banner(gen *g, dbsync__buf *b, const char *what)
{
    dbsync__buf_puts(b, "/*\n * Generated by dbsync-codegen from ");
    put_comment_text(b, g->file);
    dbsync__buf_puts(b, " \xe2\x80\x94 do not edit.\n *\n * ");
    dbsync__buf_puts(b, what);
    dbsync__buf_puts(b, " of schema \"");
    put_comment_text(b, g->schema->name);
    dbsync__buf_puts(b, "\"");
    if (g->schema->version) {
        dbsync__buf_puts(b, ", version ");
        put_comment_text(b, g->schema->version);
    }
    dbsync__buf_puts(b, ".\n */\n");
}

/* Parameter name for key column @p cn of a find_by function: the column name
 * unless it would hide something the function uses. */
static char *param_name(gen *g, const dbsync_table *t, const dbsync_key *k, size_t pos)
{
    const char *cn = t->columns[k->columns[pos]].name;
    char *p = xstrdup(cn);
    for (;;) {
        bool bad = !strcmp(p, "db") || !strcmp(p, "out") || !strcmp(p, "key") ||
                   !strcmp(p, "memset") || taken_global(p);
        char *own = fmt("%s_%s", g->schema->name, t->name);
        bad = bad || !strcmp(p, own);
        free(own);
        own = fmt("%s__tables", g->schema->name);
        bad = bad || !strcmp(p, own);
        free(own);
        for (size_t i = 0; i < k->n_columns && !bad; i++)
            bad = i != pos && !strcmp(p, t->columns[k->columns[i]].name);
        if (!bad)
            return p;
        char *q = fmt("%s_", p);
        free(p);
        p = q;
    }
}

static void put_find_signature(gen *g, dbsync__buf *b, const dbsync_table *t, size_t ki, bool decl)
{
    const dbsync_key *k = &t->uniques[ki];
    char *suffix = key_suffix(t, k);
    dbsync__buf_printf(b, "int %s_%s_find_by_%s(dbsync_conn *db", g->schema->name, t->name, suffix);
    free(suffix);
    for (size_t i = 0; i < k->n_columns; i++) {
        const dbsync_column *c = &t->columns[k->columns[i]];
        char *pn = param_name(g, t, k, i);
        const char *ty = param_type(c->type);
        dbsync__buf_printf(b, ", %s%s%s", ty, ty[strlen(ty) - 1] == '*' ? "" : " ", pn);
        free(pn);
    }
    dbsync__buf_printf(b, ", %s_%s *out)%s", g->schema->name, t->name, decl ? ";" : "");
}

static int emit_table_header(gen *g, dbsync__buf *b, size_t ti)
{
    const dbsync_table *t = &g->schema->tables[ti];
    const char *n = g->schema->name;
    bool synced = t->flags & DBSYNC_TABLE_SYNCED;
    const char *logged = synced ? " The change is logged for sync in the same transaction."
                                : " The table is not synced: the change is not logged.";
    bool referenced = false;
    for (size_t oi = 0; oi < g->schema->n_tables; oi++)
        for (size_t ci = 0; ci < g->schema->tables[oi].n_columns; ci++)
            referenced = referenced || g->schema->tables[oi].columns[ci].ref_table == (int)ti;

    dbsync__buf_printf(b, "\n/* ---- table %s%s ---- */\n\n", t->name,
                       synced ? "" : " (not synced)");

    /* the struct */
    dbsync__buf_printf(b,
                       "/**\n * A row of table \"%s\". It owns its strings and blobs: release "
                       "them with\n * %s_%s_clear().\n */\n",
                       t->name, n, t->name);
    dbsync__buf_printf(b, "typedef struct %s_%s {\n", n, t->name);
    size_t width = 0;
    for (size_t ci = 0; ci < t->n_columns; ci++) {
        const dbsync_column *c = &t->columns[ci];
        const char *ty = field_type(c->type);
        size_t w = strlen(ty) + (ty[strlen(ty) - 1] == '*' ? 0 : 1) + strlen(c->name) + 1;
        if (has_flag(t, ci) && strlen(c->name) + 10 > w)
            w = strlen(c->name) + 10;
        if (w > width)
            width = w;
    }
    for (size_t ci = 0; ci < t->n_columns; ci++) {
        const dbsync_column *c = &t->columns[ci];
        const char *ty = field_type(c->type);
        size_t start = b->len;
        dbsync__buf_printf(b, "    %s%s%s;", ty, ty[strlen(ty) - 1] == '*' ? "" : " ", c->name);
        for (size_t i = b->len - start; i < width + 5; i++)
            dbsync__buf_putc(b, ' ');
        dbsync__buf_puts(b, "/**< ");
        put_column_summary(b, g->schema, t, ci);
        dbsync__buf_puts(b, " */\n");
        if (has_flag(t, ci)) {
            start = b->len;
            dbsync__buf_printf(b, "    bool has_%s;", c->name);
            for (size_t i = b->len - start; i < width + 5; i++)
                dbsync__buf_putc(b, ' ');
            dbsync__buf_printf(b, "/**< false: %s is NULL */\n", c->name);
        }
    }
    dbsync__buf_printf(b, "} %s_%s;\n", n, t->name);

    /* text defaults shared by the descriptor and the _INIT macro */
    bool any = false;
    for (size_t ci = 0; ci < t->n_columns; ci++) {
        const dbsync_column *c = &t->columns[ci];
        if (c->default_value && is_text_like(c->type)) {
            if (!any) {
                char *text = fmt("Defaults of text columns: the _INIT macro points to them and "
                                 "%s_%s_clear() leaves them alone. Read only.",
                                 n, t->name);
                put_doc(b, text, NULL);
                free(text);
            }
            any = true;
            put_default_object(g, b, t, c, false);
        }
    }
    /* the _INIT macro */
    char *up = fmt("%s_%s_INIT", n, t->name);
    char *macro_name = upper(up);
    free(up);
    char *text = fmt("Initializer of %s_%s: every column at its default, the others zero or NULL.",
                     n, t->name);
    put_doc(b, text, NULL);
    free(text);
    dbsync__buf body = DBSYNC__BUF_INIT;
    dbsync__buf_printf(&body, "#define %s\n    {\n", macro_name);
    free(macro_name);
    for (size_t ci = 0; ci < t->n_columns; ci++) {
        const dbsync_column *c = &t->columns[ci];
        dbsync__buf_printf(&body, "        .%s = ", c->name);
        if (put_init_value(g, &body, t, ci) != 0) {
            dbsync__buf_free(&body);
            return -1;
        }
        dbsync__buf_puts(&body, ci + 1 < t->n_columns || has_flag(t, ci) ? ",\n" : "\n");
        if (has_flag(t, ci))
            dbsync__buf_printf(&body, "        .has_%s = %s%s\n", c->name,
                               c->default_value ? "true" : "false",
                               ci + 1 < t->n_columns ? "," : "");
    }
    dbsync__buf_puts(&body, "    }\n");
    if (body.oom)
        die_nomem();
    put_macro(b, body.data);
    dbsync__buf_free(&body);

    /* the functions */
    const char *pk = t->columns[t->primary_key].name;
    text = fmt("Inserts @p row into \"%s\". When row->%s is 0 the database assigns the key "
               "and writes it back into row->%s.%s",
               t->name, pk, pk, logged);
    put_doc(b, text,
            "DBSYNC_OK; DBSYNC_EINVALID (a value does not fit its column); DBSYNC_EEXISTS (key or "
            "unique value taken); DBSYNC_ECONFLICT (a reference to a missing row); DBSYNC_ERROR. "
            "The connection holds the details: dbsync_conn_error(db).");
    free(text);
    put_proto(b, fmt("int %s_%s_insert(dbsync_conn *db, %s_%s *row);", n, t->name, n, t->name));

    text = fmt("Writes every column of @p row to the row with the same primary key.%s", logged);
    put_doc(b, text,
            "DBSYNC_OK, DBSYNC_ENOTFOUND, DBSYNC_EINVALID, DBSYNC_EEXISTS, "
            "DBSYNC_ECONFLICT, DBSYNC_ERROR");
    free(text);
    put_proto(b,
              fmt("int %s_%s_update(dbsync_conn *db, const %s_%s *row);", n, t->name, n, t->name));

    text = fmt("Deletes the row with primary key @p id%s.%s",
               referenced ? "; the rows that reference it are deleted, set to NULL or keep it "
                            "from being deleted, as their on-delete says"
                          : "",
               logged);
    put_doc(b, text,
            "DBSYNC_OK, DBSYNC_ENOTFOUND, DBSYNC_ECONFLICT (an on-delete restrict "
            "reference), DBSYNC_ERROR");
    free(text);
    put_proto(b, fmt("int %s_%s_delete(dbsync_conn *db, int64_t id);", n, t->name));

    text = fmt("Reads the row with primary key @p id into @p out, which is cleared first; "
               "release it with %s_%s_clear().",
               n, t->name);
    put_doc(b, text, "DBSYNC_OK, DBSYNC_ENOTFOUND, DBSYNC_ERROR");
    free(text);
    put_proto(
        b, fmt("int %s_%s_get(dbsync_conn *db, int64_t id, %s_%s *out);", n, t->name, n, t->name));

    for (size_t k = 0; k < t->n_uniques; k++) {
        const dbsync_key *key = &t->uniques[k];
        dbsync__buf cols = DBSYNC__BUF_INIT;
        for (size_t i = 0; i < key->n_columns; i++)
            dbsync__buf_printf(&cols, "%s%s",
                               i == 0                   ? ""
                               : i + 1 < key->n_columns ? ", "
                                                        : " and ",
                               t->columns[key->columns[i]].name);
        if (cols.oom)
            die_nomem();
        text = fmt("Reads the row whose %s equal%s the arguments into @p out, which is cleared "
                   "first; release it with %s_%s_clear(). NULL is not a key value here: find "
                   "rows with NULL through %s_%s_iter_new() and DBSYNC_FILTER_IS_NULL.",
                   cols.data, key->n_columns == 1 ? "s" : "", n, t->name, n, t->name);
        dbsync__buf_free(&cols);
        put_doc(b, text, "DBSYNC_OK, DBSYNC_ENOTFOUND, DBSYNC_EINVALID, DBSYNC_ERROR");
        free(text);
        dbsync__buf sig = DBSYNC__BUF_INIT;
        put_find_signature(g, &sig, t, k, true);
        if (sig.oom)
            die_nomem();
        put_proto(b, dbsync__buf_take(&sig));
    }

    text = fmt("Starts iterating over the rows of \"%s\" that @p query selects (NULL: all rows "
               "by primary key). End with dbsync_iter_free().",
               t->name);
    put_doc(b, text,
            "DBSYNC_OK, DBSYNC_EINVALID (unknown column, bad filter value), "
            "DBSYNC_ERROR");
    free(text);
    put_proto(b, fmt("int %s_%s_iter_new(dbsync_iter **out, dbsync_conn *db, "
                     "const dbsync_query *query);",
                     n, t->name));

    text = fmt("Reads the next row into @p row, which is cleared first; release it with "
               "%s_%s_clear().",
               n, t->name);
    put_doc(b, text, "DBSYNC_OK, DBSYNC_ITEROVER after the last row, DBSYNC_ERROR");
    free(text);
    put_proto(b,
              fmt("int %s_%s_iter_next(dbsync_iter *iter, %s_%s *row);", n, t->name, n, t->name));

    put_doc(b, "Frees the strings and blobs @p row owns and zeroes it; accepts NULL.", NULL);
    put_proto(b, fmt("void %s_%s_clear(%s_%s *row);", n, t->name, n, t->name));

    text = fmt("The descriptor of table \"%s\" (static, never NULL).", t->name);
    put_doc(b, text, NULL);
    free(text);
    put_proto(b, fmt("const dbsync_table *%s_%s_table(void);", n, t->name));
    return 0;
}

static int emit_header(gen *g, dbsync__buf *b)
{
    const dbsync_schema *s = g->schema;
    put_banner(g, b, "Row structs and typed accessors");
    dbsync__buf_printf(b, "#ifndef %s_H_GENERATED\n#define %s_H_GENERATED\n\n", g->schema_upper,
                       g->schema_upper);
    dbsync__buf_puts(b, "#include <dbsync/dbsync.h>\n\n");
    int need = DBSYNC_VERSION_MAJOR * 10000 + DBSYNC_VERSION_MINOR * 100;
    dbsync__buf_printf(b,
                       "#if DBSYNC_VERSION_NUMBER < %d\n"
                       "#error \"generated by dbsync-codegen %d.%d: needs the headers of dbsync "
                       "%d.%d or newer\"\n#endif\n\n",
                       need, DBSYNC_VERSION_MAJOR, DBSYNC_VERSION_MINOR, DBSYNC_VERSION_MAJOR,
                       DBSYNC_VERSION_MINOR);
    dbsync__buf_puts(b, "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n");
    dbsync__buf_printf(b,
                       "/** The descriptor of schema \"%s\": give it to dbsync_conn_open(). */\n"
                       "extern const dbsync_schema %s_schema;\n",
                       s->name, s->name);
    for (size_t ti = 0; ti < s->n_tables; ti++)
        if (emit_table_header(g, b, ti) != 0)
            return -1;
    dbsync__buf_puts(b, "\n#ifdef __cplusplus\n}\n#endif\n#endif\n");
    return 0;
}

/* ---- the source ---- */

static void put_key_array(gen *g, dbsync__buf *b, const dbsync_table *t, const dbsync_key *keys,
                          size_t n_keys, const char *kind, const char *plural)
{
    const char *n = g->schema->name;
    for (size_t k = 0; k < n_keys; k++) {
        dbsync__buf_printf(b, "static const unsigned %s__%s__%s_%zu[] = {", n, t->name, kind, k);
        for (size_t i = 0; i < keys[k].n_columns; i++)
            dbsync__buf_printf(b, "%s%u", i ? ", " : "", keys[k].columns[i]);
        dbsync__buf_puts(b, "};\n");
    }
    if (!n_keys)
        return;
    dbsync__buf_printf(b, "\nstatic const dbsync_key %s__%s__%s[] = {\n", n, t->name, plural);
    for (size_t k = 0; k < n_keys; k++) {
        dbsync__buf_puts(b, "    {\n        .name = ");
        if (keys[k].name)
            put_literal(b, keys[k].name);
        else
            dbsync__buf_puts(b, "NULL");
        dbsync__buf_printf(b,
                           ",\n        .n_columns = %zu,\n        .columns = %s__%s__%s_%zu,\n"
                           "        .line = %u,\n    },\n",
                           keys[k].n_columns, n, t->name, kind, k, keys[k].line);
    }
    dbsync__buf_puts(b, "};\n");
}

static void emit_table_descriptor(gen *g, dbsync__buf *b, size_t ti)
{
    const dbsync_table *t = &g->schema->tables[ti];
    const char *n = g->schema->name;
    dbsync__buf_printf(b, "\n/* ---- table %s ---- */\n\n", t->name);
    dbsync__buf_printf(b, "static const dbsync_column %s__%s__columns[] = {\n", n, t->name);
    for (size_t ci = 0; ci < t->n_columns; ci++) {
        const dbsync_column *c = &t->columns[ci];
        dbsync__buf_puts(b, "    {\n        .name = ");
        put_literal(b, c->name);
        dbsync__buf_printf(b, ",\n        .type = %s,\n        .flags = ", type_enum(c->type));
        put_column_flags(b, c->flags);
        dbsync__buf_printf(b,
                           ",\n        .length = %u,\n        .precision = %u,\n"
                           "        .scale = %u,\n        .default_value = ",
                           c->length, c->precision, c->scale);
        if (!c->default_value)
            dbsync__buf_puts(b, "NULL");
        else if (is_text_like(c->type))
            dbsync__buf_printf(b, "%s__%s__%s__default", n, t->name, c->name);
        else
            put_literal(b, c->default_value);
        dbsync__buf_printf(b, ",\n        .ref_table = %d,", c->ref_table);
        if (c->ref_table >= 0 && (size_t)c->ref_table < g->schema->n_tables)
            dbsync__buf_printf(b, " /* %s */", g->schema->tables[c->ref_table].name);
        dbsync__buf_printf(b, "\n        .on_delete = %s,\n", on_delete_enum(c->on_delete));
        dbsync__buf_printf(b, "        .offset = offsetof(%s_%s, %s),\n", n, t->name, c->name);
        if (has_flag(t, ci))
            dbsync__buf_printf(b, "        .has_offset = offsetof(%s_%s, has_%s),\n", n, t->name,
                               c->name);
        else
            dbsync__buf_puts(b, "        .has_offset = DBSYNC_NO_OFFSET,\n");
        dbsync__buf_printf(b, "        .line = %u,\n    },\n", c->line);
    }
    dbsync__buf_puts(b, "};\n");
    if (t->n_uniques)
        dbsync__buf_putc(b, '\n');
    put_key_array(g, b, t, t->uniques, t->n_uniques, "unique", "uniques");
    if (t->n_indexes)
        dbsync__buf_putc(b, '\n');
    put_key_array(g, b, t, t->indexes, t->n_indexes, "index", "indexes");
}

/* A function definition: the prototype (owned, wrapped) and a one-statement body (owned). */
static void put_function(dbsync__buf *b, char *proto, char *statement)
{
    dbsync__buf_putc(b, '\n');
    put_proto(b, proto);
    dbsync__buf_printf(b, "{\n    %s\n}\n", statement);
    free(statement);
}

static void emit_table_functions(gen *g, dbsync__buf *b, size_t ti)
{
    const dbsync_table *t = &g->schema->tables[ti];
    const char *n = g->schema->name;
    const char *tn = t->name;
    char *desc = fmt("&%s__tables[%zu]", n, ti);
    dbsync__buf_printf(b, "\n/* ---- table %s ---- */\n", tn);
    put_function(b, fmt("int %s_%s_insert(dbsync_conn *db, %s_%s *row)", n, tn, n, tn),
                 fmt("return dbsync_struct_insert(db, %s, row);", desc));
    put_function(b, fmt("int %s_%s_update(dbsync_conn *db, const %s_%s *row)", n, tn, n, tn),
                 fmt("return dbsync_struct_update(db, %s, row);", desc));
    put_function(b, fmt("int %s_%s_delete(dbsync_conn *db, int64_t id)", n, tn),
                 fmt("return dbsync_row_delete(db, %s, id);", desc));
    put_function(b, fmt("int %s_%s_get(dbsync_conn *db, int64_t id, %s_%s *out)", n, tn, n, tn),
                 fmt("return dbsync_struct_get(db, %s, id, out);", desc));
    for (size_t k = 0; k < t->n_uniques; k++) {
        const dbsync_key *key = &t->uniques[k];
        dbsync__buf_putc(b, '\n');
        dbsync__buf sig = DBSYNC__BUF_INIT;
        put_find_signature(g, &sig, t, k, false);
        if (sig.oom)
            die_nomem();
        put_proto(b, dbsync__buf_take(&sig));
        dbsync__buf_printf(b, "{\n    %s_%s key;\n\n    memset(&key, 0, sizeof key);\n", n, tn);
        for (size_t i = 0; i < key->n_columns; i++) {
            size_t ci = key->columns[i];
            const dbsync_column *c = &t->columns[ci];
            char *pn = param_name(g, t, key, i);
            dbsync__buf_printf(b, "    key.%s = %s%s;\n", c->name,
                               is_text_like(c->type) ? "(char *)" : "", pn);
            if (has_flag(t, ci))
                dbsync__buf_printf(b, "    key.has_%s = true;\n", c->name);
            free(pn);
        }
        dbsync__buf_printf(b, "    return dbsync_struct_find(db, %s, %zu, &key, out);\n}\n", desc,
                           k);
    }
    put_function(b,
                 fmt("int %s_%s_iter_new(dbsync_iter **out, dbsync_conn *db, "
                     "const dbsync_query *query)",
                     n, tn),
                 fmt("return dbsync_iter_new(out, db, %s, query);", desc));
    put_function(b, fmt("int %s_%s_iter_next(dbsync_iter *iter, %s_%s *row)", n, tn, n, tn),
                 xstrdup("return dbsync_iter_next_struct(iter, row);"));
    put_function(b, fmt("void %s_%s_clear(%s_%s *row)", n, tn, n, tn),
                 fmt("dbsync_struct_clear(%s, row);", desc));
    put_function(b, fmt("const dbsync_table *%s_%s_table(void)", n, tn), fmt("return %s;", desc));
    free(desc);
}

static int emit_source(gen *g, dbsync__buf *b, const char *header_name)
{
    const dbsync_schema *s = g->schema;
    const char *n = s->name;
    put_banner(g, b, "Descriptor and accessors");
    dbsync__buf_puts(b, "#include <stddef.h>\n#include <string.h>\n\n#include ");
    put_literal(b, header_name);
    dbsync__buf_putc(b, '\n');

    bool any = false;
    for (size_t ti = 0; ti < s->n_tables; ti++) {
        const dbsync_table *t = &s->tables[ti];
        for (size_t ci = 0; ci < t->n_columns; ci++) {
            const dbsync_column *c = &t->columns[ci];
            if (c->default_value && is_text_like(c->type)) {
                if (!any)
                    dbsync__buf_puts(b, "\n/* Defaults of text columns: the descriptor and the "
                                        "_INIT macros point to the\n * same objects, which "
                                        "dbsync_struct_clear() knows not to free. */\n");
                any = true;
                put_default_object(g, b, t, c, true);
            }
        }
    }

    for (size_t ti = 0; ti < s->n_tables; ti++)
        emit_table_descriptor(g, b, ti);

    if (s->n_tables) {
        dbsync__buf_printf(b,
                           "\n/* ---- the schema ---- */\n\nstatic const dbsync_table "
                           "%s__tables[] = {\n",
                           n);
        for (size_t ti = 0; ti < s->n_tables; ti++) {
            const dbsync_table *t = &s->tables[ti];
            dbsync__buf_puts(b, "    {\n        .name = ");
            put_literal(b, t->name);
            dbsync__buf_puts(b, ",\n        .flags = ");
            put_table_flags(b, t->flags);
            dbsync__buf_printf(b,
                               ",\n        .n_columns = %zu,\n        .columns = %s__%s__columns,"
                               "\n        .primary_key = %u,\n",
                               t->n_columns, n, t->name, t->primary_key);
            dbsync__buf_printf(b, "        .n_uniques = %zu,\n", t->n_uniques);
            if (t->n_uniques)
                dbsync__buf_printf(b, "        .uniques = %s__%s__uniques,\n", n, t->name);
            else
                dbsync__buf_puts(b, "        .uniques = NULL,\n");
            dbsync__buf_printf(b, "        .n_indexes = %zu,\n", t->n_indexes);
            if (t->n_indexes)
                dbsync__buf_printf(b, "        .indexes = %s__%s__indexes,\n", n, t->name);
            else
                dbsync__buf_puts(b, "        .indexes = NULL,\n");
            dbsync__buf_printf(b,
                               "        .struct_size = sizeof(%s_%s),\n        .line = %u,\n"
                               "    },\n",
                               n, t->name, t->line);
        }
        dbsync__buf_puts(b, "};\n");
    } else {
        dbsync__buf_puts(b, "\n/* ---- the schema ---- */\n");
    }

    dbsync__buf_printf(b,
                       "\nconst dbsync_schema %s_schema = {\n    .magic = DBSYNC_SCHEMA_MAGIC,\n"
                       "    .name = ",
                       n);
    put_literal(b, n);
    dbsync__buf_puts(b, ",\n    .version = ");
    if (s->version)
        put_literal(b, s->version);
    else
        dbsync__buf_puts(b, "NULL");
    dbsync__buf_printf(b, ",\n    .n_tables = %zu,\n    .tables = ", s->n_tables);
    if (s->n_tables)
        dbsync__buf_printf(b, "%s__tables", n);
    else
        dbsync__buf_puts(b, "NULL");
    dbsync__buf_puts(b, ",\n    .file = NULL,\n};\n");

    for (size_t ti = 0; ti < s->n_tables; ti++)
        emit_table_functions(g, b, ti);
    return 0;
}

/* Refuses strings C cannot hold in one literal under -pedantic. */
static int check_lengths(gen *g)
{
    const dbsync_schema *s = g->schema;
    if (s->version && strlen(s->version) > MAX_LITERAL)
        return fail(g, 0, "the schema version is too long for generated code");
    for (size_t ti = 0; ti < s->n_tables; ti++) {
        const dbsync_table *t = &s->tables[ti];
        for (size_t ci = 0; ci < t->n_columns; ci++) {
            const dbsync_column *c = &t->columns[ci];
            if (c->default_value && !is_text_like(c->type) &&
                strlen(c->default_value) > MAX_LITERAL)
                return fail(g, c->line, "column \"%s\" of table \"%s\": the default is too long",
                            c->name, t->name);
        }
        for (size_t k = 0; k < t->n_uniques + t->n_indexes; k++) {
            const dbsync_key *key =
                k < t->n_uniques ? &t->uniques[k] : &t->indexes[k - t->n_uniques];
            if (key->name && strlen(key->name) > MAX_LITERAL)
                return fail(g, key->line, "the key name is too long for generated code");
        }
    }
    return 0;
}

/* ---- output ---- */

typedef struct out_file {
    char *path; /* DIR/NAME.x */
    char *tmp;  /* DIR/.NAME.x.XXXXXX while being written */
    const dbsync__buf *text;
} out_file;

static int write_temp(out_file *f, char *error, size_t errsize)
{
    int fd = mkstemp(f->tmp);
    if (fd < 0) {
        snprintf(error, errsize, "cannot write %s: %s", f->path, strerror(errno));
        free(f->tmp);
        f->tmp = NULL;
        return -1;
    }
    mode_t mask = umask(0);
    umask(mask);
    (void)fchmod(fd, 0666 & ~mask);
    FILE *fp = fdopen(fd, "w");
    if (!fp) {
        close(fd);
        goto failed;
    }
    size_t n = f->text->len;
    if (fwrite(f->text->data, 1, n, fp) != n || fflush(fp) != 0 || fsync(fd) != 0) {
        int e = errno;
        fclose(fp);
        errno = e;
        goto failed;
    }
    if (fclose(fp) != 0)
        goto failed;
    return 0;
failed:
    snprintf(error, errsize, "cannot write %s: %s", f->path, strerror(errno ? errno : EIO));
    unlink(f->tmp);
    free(f->tmp);
    f->tmp = NULL;
    return -1;
}

/* Creates @p dir and its missing parents. */
static int make_dirs(const char *dir, char *error, size_t errsize)
{
    char *p = xstrdup(dir);
    for (char *q = p + 1;; q++) {
        if (*q == '/' || *q == '\0') {
            char c = *q;
            *q = '\0';
            struct stat st;
            if (stat(p, &st) != 0) {
                if (mkdir(p, 0777) != 0 && errno != EEXIST) {
                    snprintf(error, errsize, "cannot create the folder %s: %s", p, strerror(errno));
                    free(p);
                    return -1;
                }
            } else if (!S_ISDIR(st.st_mode)) {
                snprintf(error, errsize, "%s is not a folder", p);
                free(p);
                return -1;
            }
            *q = c;
            if (!c)
                break;
        }
    }
    free(p);
    return 0;
}

/* Writes both files next to their final names, then renames them: a failure
 * leaves no partial file and no temporary behind. */
static int write_outputs(const char *dir, const char *name, const dbsync__buf *h,
                         const dbsync__buf *c, char *error, size_t errsize)
{
    if (make_dirs(dir, error, errsize) != 0)
        return -1;
    out_file files[2] = {
        {fmt("%s/%s.h", dir, name), fmt("%s/.%s.h.XXXXXX", dir, name), h},
        {fmt("%s/%s.c", dir, name), fmt("%s/.%s.c.XXXXXX", dir, name), c},
    };
    int rc = -1;
    for (size_t i = 0; i < 2; i++) {
        struct stat st;
        if (stat(files[i].path, &st) == 0 && S_ISDIR(st.st_mode)) {
            snprintf(error, errsize, "cannot write %s: it is a folder", files[i].path);
            goto done;
        }
    }
    for (size_t i = 0; i < 2; i++)
        if (write_temp(&files[i], error, errsize) != 0)
            goto done;
    for (size_t i = 0; i < 2; i++) {
        if (rename(files[i].tmp, files[i].path) != 0) {
            snprintf(error, errsize, "cannot write %s: %s", files[i].path, strerror(errno));
            goto done;
        }
        free(files[i].tmp);
        files[i].tmp = NULL;
    }
    rc = 0;
done:
    for (size_t i = 0; i < 2; i++) {
        if (files[i].tmp)
            unlink(files[i].tmp);
        free(files[i].tmp);
        free(files[i].path);
    }
    return rc;
}

/* ---- main ---- */

static void usage(FILE *fp)
{
    fprintf(fp,
            "Usage: " PROG " [-o DIR] SCHEMA.xml\n"
            "Writes DIR/NAME.h and DIR/NAME.c for the schema named NAME: row structs,\n"
            "_INIT macros, typed accessors and the schema descriptor.\n"
            "\n"
            "  -o, --output DIR  where to write (default: the current folder; created if needed)\n"
            "  -h, --help        show this help and exit\n"
            "      --version     show the version and exit\n");
}

static int error_exit(const char *f, ...) DBSYNC__PRINTF(1, 2);

static int error_exit(const char *f, ...)
{
    va_list ap;
    va_start(ap, f);
    fputs(PROG ": ", stderr);
    vfprintf(stderr, f, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int main(int argc, char **argv)
{
    const char *dir = ".";
    const char *file = NULL;
    bool options = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (options && (!strcmp(a, "-h") || !strcmp(a, "--help"))) {
            usage(stdout);
            return 0;
        } else if (options && !strcmp(a, "--version")) {
            printf(PROG " %d.%d.%d\n", DBSYNC_VERSION_MAJOR, DBSYNC_VERSION_MINOR,
                   DBSYNC_VERSION_PATCH);
            return 0;
        } else if (options && (!strcmp(a, "-o") || !strcmp(a, "--output"))) {
            if (i + 1 >= argc)
                return error_exit("%s needs a folder (try --help)", a);
            dir = argv[++i];
        } else if (options && !strncmp(a, "--output=", 9)) {
            dir = a + 9;
        } else if (options && !strncmp(a, "-o", 2)) {
            dir = a + 2;
        } else if (options && !strcmp(a, "--")) {
            options = false;
        } else if (options && a[0] == '-' && a[1]) {
            return error_exit("unknown option \"%s\" (try --help)", a);
        } else if (file) {
            return error_exit("one schema file only, got \"%s\" and \"%s\" (try --help)", file, a);
        } else {
            file = a;
        }
    }
    if (!file)
        return error_exit("no schema file given (usage: " PROG " [-o DIR] SCHEMA.xml)");
    if (!*dir)
        return error_exit("the output folder is empty");

    dbsync_error err;
    memset(&err, 0, sizeof err);
    dbsync_schema *schema = NULL;
    if (dbsync_schema_load_file(&schema, file, &err) != DBSYNC_OK) {
        if (!err.message[0])
            return error_exit("%s: cannot load the schema", file);
        return error_exit("%s", err.message);
    }

    gen g;
    memset(&g, 0, sizeof g);
    g.schema = schema;
    g.file = file;
    g.schema_upper = upper(schema->name);
    dbsync__buf h = DBSYNC__BUF_INIT, c = DBSYNC__BUF_INIT;
    int status = 1;
    if (check_names(&g) != 0 || check_lengths(&g) != 0 || emit_header(&g, &h) != 0) {
        error_exit("%s", g.error);
        goto done;
    }
    char *header_name = fmt("%s.h", schema->name);
    emit_source(&g, &c, header_name);
    free(header_name);
    if (h.oom || c.oom) {
        error_exit("out of memory");
        goto done;
    }
    char error[1200];
    if (write_outputs(dir, schema->name, &h, &c, error, sizeof error) != 0) {
        error_exit("%s", error);
        goto done;
    }
    status = 0;
done:
    dbsync__buf_free(&h);
    dbsync__buf_free(&c);
    free_names(&g);
    free(g.schema_upper);
    dbsync_schema_free(schema);
    return status;
}
