/* SPDX-License-Identifier: MIT */
/*
 * The schema file loader: XML (libxml2, with line numbers) to the model of
 * schema.h. Three steps: parse; validate against the RELAX NG grammar
 * embedded below (the text of codegen/dbsync-schema.rng); build the model,
 * checking every attribute and rule on the way (src/schema.c holds the
 * rules shared with generated descriptors).
 *
 * Messages: the grammar decides what is valid, but libxml2's words for what
 * it rejects are vague ("Element column failed to validate attributes"),
 * so when validation fails the builder runs anyway and its first error,
 * worded by us, is reported; libxml2's own message (with file and line) is
 * the fallback. Nothing is printed: libxml2's errors go to handlers set on
 * our own parser and validation contexts (and, for libxml2 < 2.12, to
 * thread-local handlers that are restored before returning).
 *
 * Memory: the schema and everything in it live in one arena; every error
 * path frees the libxml2 objects and the arena.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

#include "internal.h"
#include "schema_internal.h"

/* The text of codegen/dbsync-schema.rng, byte for byte (a test compares them). */
static const char grammar[] =
    "<!-- SPDX-License-Identifier: MIT -->\n"
    "<!--\n"
    "  RELAX NG grammar of dbsync schema files (reference: doc/schema.md).\n"
    "  It holds the structure: elements, attributes, enumerated and numeric\n"
    "  values. Rules spanning elements (one integer primary key, references,\n"
    "  unique names, defaults) are checked by src/schema.c and schema_xml.c,\n"
    "  which embeds this file verbatim (tests/test_schema.c compares them).\n"
    "-->\n"
    "<grammar xmlns=\"http://relaxng.org/ns/structure/1.0\"\n"
    "         datatypeLibrary=\"http://www.w3.org/2001/XMLSchema-datatypes\">\n"
    "\n"
    "  <start>\n"
    "    <ref name=\"schema\"/>\n"
    "  </start>\n"
    "\n"
    "  <define name=\"schema\">\n"
    "    <element name=\"schema\">\n"
    "      <attribute name=\"name\"><ref name=\"identifier\"/></attribute>\n"
    "      <optional>\n"
    "        <attribute name=\"version\"><text/></attribute>\n"
    "      </optional>\n"
    "      <oneOrMore>\n"
    "        <ref name=\"table\"/>\n"
    "      </oneOrMore>\n"
    "    </element>\n"
    "  </define>\n"
    "\n"
    "  <define name=\"table\">\n"
    "    <element name=\"table\">\n"
    "      <attribute name=\"name\"><ref name=\"identifier\"/></attribute>\n"
    "      <optional>\n"
    "        <attribute name=\"sync\"><ref name=\"boolean\"/></attribute>\n"
    "      </optional>\n"
    "      <oneOrMore>\n"
    "        <choice>\n"
    "          <ref name=\"column\"/>\n"
    "          <ref name=\"unique\"/>\n"
    "          <ref name=\"index\"/>\n"
    "        </choice>\n"
    "      </oneOrMore>\n"
    "    </element>\n"
    "  </define>\n"
    "\n"
    "  <define name=\"column\">\n"
    "    <element name=\"column\">\n"
    "      <attribute name=\"name\"><ref name=\"identifier\"/></attribute>\n"
    "      <attribute name=\"type\"><ref name=\"type\"/></attribute>\n"
    "      <optional>\n"
    "        <attribute name=\"primary-key\"><ref name=\"boolean\"/></attribute>\n"
    "      </optional>\n"
    "      <optional>\n"
    "        <attribute name=\"nullable\"><ref name=\"boolean\"/></attribute>\n"
    "      </optional>\n"
    "      <optional>\n"
    "        <attribute name=\"length\"><ref name=\"number\"/></attribute>\n"
    "      </optional>\n"
    "      <optional>\n"
    "        <attribute name=\"precision\"><ref name=\"number\"/></attribute>\n"
    "      </optional>\n"
    "      <optional>\n"
    "        <attribute name=\"scale\"><ref name=\"number\"/></attribute>\n"
    "      </optional>\n"
    "      <optional>\n"
    "        <attribute name=\"default\"><text/></attribute>\n"
    "      </optional>\n"
    "      <optional>\n"
    "        <attribute name=\"references\"><ref name=\"identifier\"/></attribute>\n"
    "      </optional>\n"
    "      <optional>\n"
    "        <attribute name=\"on-delete\">\n"
    "          <choice>\n"
    "            <value type=\"string\">restrict</value>\n"
    "            <value type=\"string\">cascade</value>\n"
    "            <value type=\"string\">set-null</value>\n"
    "          </choice>\n"
    "        </attribute>\n"
    "      </optional>\n"
    "      <empty/>\n"
    "    </element>\n"
    "  </define>\n"
    "\n"
    "  <define name=\"unique\">\n"
    "    <element name=\"unique\">\n"
    "      <attribute name=\"columns\"><ref name=\"column-list\"/></attribute>\n"
    "      <empty/>\n"
    "    </element>\n"
    "  </define>\n"
    "\n"
    "  <define name=\"index\">\n"
    "    <element name=\"index\">\n"
    "      <attribute name=\"columns\"><ref name=\"column-list\"/></attribute>\n"
    "      <empty/>\n"
    "    </element>\n"
    "  </define>\n"
    "\n"
    "  <define name=\"type\">\n"
    "    <choice>\n"
    "      <value type=\"string\">integer</value>\n"
    "      <value type=\"string\">boolean</value>\n"
    "      <value type=\"string\">real</value>\n"
    "      <value type=\"string\">decimal</value>\n"
    "      <value type=\"string\">text</value>\n"
    "      <value type=\"string\">blob</value>\n"
    "      <value type=\"string\">date</value>\n"
    "      <value type=\"string\">time</value>\n"
    "      <value type=\"string\">datetime</value>\n"
    "    </choice>\n"
    "  </define>\n"
    "\n"
    "  <define name=\"boolean\">\n"
    "    <choice>\n"
    "      <value type=\"string\">true</value>\n"
    "      <value type=\"string\">false</value>\n"
    "    </choice>\n"
    "  </define>\n"
    "\n"
    "  <!-- A whole number written with digits only; the loader checks ranges. -->\n"
    "  <define name=\"number\">\n"
    "    <data type=\"string\">\n"
    "      <param name=\"pattern\">[0-9]{1,9}</param>\n"
    "    </data>\n"
    "  </define>\n"
    "\n"
    "  <!-- An SQL and C identifier of at most 63 bytes. -->\n"
    "  <define name=\"identifier\">\n"
    "    <data type=\"string\">\n"
    "      <param name=\"pattern\">[A-Za-z_][A-Za-z0-9_]{0,62}</param>\n"
    "    </data>\n"
    "  </define>\n"
    "\n"
    "  <!-- Column names separated by white space. -->\n"
    "  <define name=\"column-list\">\n"
    "    <list>\n"
    "      <oneOrMore>\n"
    "        <ref name=\"identifier\"/>\n"
    "      </oneOrMore>\n"
    "    </list>\n"
    "  </define>\n"
    "\n"
    "</grammar>\n";

const char *dbsync__schema_grammar(void)
{
    return grammar;
}

#define MAX_FILE_SIZE (64u * 1024 * 1024)
#define PARSE_OPTIONS (XML_PARSE_NONET | XML_PARSE_BIG_LINES)

/* ---- libxml2 errors ---- */

#if LIBXML_VERSION >= 21200
typedef const xmlError *error_ptr;
#else
typedef xmlErrorPtr error_ptr;
#endif

/* The first error libxml2 reported, and the first one that came with a
 * line (RELAX NG's first complaint often has none). */
typedef struct xml_capture {
    bool have;
    bool have_line;
    unsigned line;
    char first[300];
    char with_line[300];
} xml_capture;

static unsigned node_line(const void *node)
{
    long line = node ? xmlGetLineNo((const xmlNode *)node) : -1;
    return line > 0 && line <= (long)UINT_MAX ? (unsigned)line : 0;
}

/* Copies a libxml2 message without its trailing newline. */
static void copy_message(char *dst, size_t size, const char *msg)
{
    snprintf(dst, size, "%s", msg && *msg ? msg : "unknown error");
    size_t n = strlen(dst);
    while (n && (dst[n - 1] == '\n' || dst[n - 1] == '\r' || dst[n - 1] == ' '))
        dst[--n] = '\0';
}

static void capture_error(void *data, error_ptr e)
{
    xml_capture *c = data;
    if (!c || !e || e->level < XML_ERR_ERROR)
        return;
    unsigned line = e->line > 0 ? (unsigned)e->line : node_line(e->node);
    if (!c->have) {
        c->have = true;
        copy_message(c->first, sizeof c->first, e->message);
    }
    if (!c->have_line && line) {
        c->have_line = true;
        c->line = line;
        copy_message(c->with_line, sizeof c->with_line, e->message);
    }
}

/* The parser calls its handler with the parser context as data. */
static void parser_error(void *data, error_ptr e)
{
    xmlParserCtxtPtr ctxt = data;
    capture_error(ctxt ? ctxt->_private : NULL, e);
}

#if LIBXML_VERSION < 21200
static void silent_generic(void *data, const char *msg, ...)
{
    (void)data;
    (void)msg;
}
#endif

/* Sets dbsync's error from a capture: "FILE:LINE: WHAT: message". */
static int capture_report(dbsync_error *err, const char *file, const xml_capture *c,
                          const char *what)
{
    if (c->have_line)
        return dbsync__schema_error(err, file, c->line, "%s: %s", what, c->with_line);
    return dbsync__schema_error(err, file, 0, "%s: %s", what,
                                c->have ? c->first : "no detail from libxml2");
}

/* ---- the builder ---- */

typedef struct loader {
    const char *file; /* for messages */
    dbsync_schema *schema;
    dbsync__arena *arena;
    dbsync_error *err;
} loader;

#define LD_ERROR(ld, node, ...)                                                                    \
    dbsync__schema_error((ld)->err, (ld)->file, node_line(node), __VA_ARGS__)

static bool is_element(const xmlNode *node, const char *name)
{
    return node->type == XML_ELEMENT_NODE && !node->ns && !strcmp((const char *)node->name, name);
}

/* The value of the attribute @p name (no namespace) copied into the arena
 * in *out, NULL when absent. */
static int get_attr(loader *ld, xmlNode *node, const char *name, const char **out)
{
    *out = NULL;
    for (xmlAttr *a = node->properties; a; a = a->next) {
        if (a->ns || strcmp((const char *)a->name, name))
            continue;
        xmlChar *v = xmlNodeListGetString(node->doc, a->children, 1);
        *out = dbsync__arena_strdup(ld->arena, v ? (const char *)v : "");
        xmlFree(v);
        return *out ? DBSYNC_OK : dbsync__error_nomem(ld->err);
    }
    return DBSYNC_OK;
}

/* Every attribute of @p node must be one of @p allowed (NULL-terminated). */
static int check_attributes(loader *ld, xmlNode *node, const char *what,
                            const char *const allowed[])
{
    for (xmlAttr *a = node->properties; a; a = a->next) {
        bool ok = false;
        for (size_t i = 0; !a->ns && allowed[i] && !ok; i++)
            ok = !strcmp(allowed[i], (const char *)a->name);
        if (ok)
            continue;
        char list[200] = "";
        for (size_t i = 0; allowed[i]; i++)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
                     i ? (allowed[i + 1] ? ", " : " or ") : "", allowed[i]);
        const char *prefix = a->ns && a->ns->prefix ? (const char *)a->ns->prefix : "";
        return LD_ERROR(ld, node, "%s: unknown attribute \"%s%s%.60s\" (expected %s)", what, prefix,
                        *prefix ? ":" : "", (const char *)a->name, list);
    }
    return DBSYNC_OK;
}

/* Displays the start of a text for a message: white space folded, cut. */
static void text_excerpt(char *dst, size_t size, const char *text)
{
    size_t n = 0;
    bool space = false;
    for (const char *p = text; *p && n + 4 < size; p++) {
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
            space = n > 0;
            continue;
        }
        if (space)
            dst[n++] = ' ';
        space = false;
        dst[n++] = *p;
    }
    dst[n] = '\0';
    if (n + 4 >= size)
        strcpy(dst + n, "...");
}

static bool is_blank(const char *s)
{
    for (; s && *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return false;
    return true;
}

/*
 * The children of @p node must be elements named in @p allowed
 * (NULL-terminated; @p expected words them for messages, NULL when no
 * element is allowed), comments, processing instructions or white space.
 * counts[i] receives the number of elements named allowed[i].
 */
static int check_children(loader *ld, xmlNode *node, const char *what, const char *const allowed[],
                          const char *expected, size_t counts[])
{
    for (size_t i = 0; allowed[i]; i++)
        counts[i] = 0;
    for (xmlNode *c = node->children; c; c = c->next) {
        switch (c->type) {
        case XML_ELEMENT_NODE: {
            bool ok = false;
            for (size_t i = 0; !c->ns && allowed[i] && !ok; i++)
                if (!strcmp(allowed[i], (const char *)c->name)) {
                    counts[i]++;
                    ok = true;
                }
            if (ok)
                break;
            const char *prefix = c->ns && c->ns->prefix ? (const char *)c->ns->prefix : "";
            char ns[160] = "";
            if (c->ns && c->ns->href)
                snprintf(ns, sizeof ns, " in namespace \"%.100s\"", (const char *)c->ns->href);
            if (!expected)
                return LD_ERROR(ld, c,
                                "%s: unexpected element <%s%s%.60s>%s (this element is "
                                "empty)",
                                what, prefix, *prefix ? ":" : "", (const char *)c->name, ns);
            return LD_ERROR(ld, c, "%s: unknown element <%s%s%.60s>%s (expected %s)", what, prefix,
                            *prefix ? ":" : "", (const char *)c->name, ns, expected);
        }
        case XML_TEXT_NODE:
        case XML_CDATA_SECTION_NODE:
            if (!is_blank((const char *)c->content)) {
                char excerpt[48];
                const char *text = (const char *)c->content;
                text_excerpt(excerpt, sizeof excerpt, text);
                /* libxml2 gives a text node the line where it ends: count
                 * back to the line of its first visible character. */
                unsigned line = node_line(c), first = node_line(node);
                for (const char *p = text + strspn(text, " \t\r\n"); *p; p++)
                    if (*p == '\n' && line > first)
                        line--;
                return dbsync__schema_error(ld->err, ld->file, line, "%s: unexpected text \"%s\"",
                                            what, excerpt);
            }
            break;
        case XML_ENTITY_REF_NODE:
            return LD_ERROR(ld, c, "%s: unexpected text \"&%.60s;\"", what, (const char *)c->name);
        default: /* comments, processing instructions */
            break;
        }
    }
    return DBSYNC_OK;
}

static int parse_bool(loader *ld, xmlNode *node, const char *what, const char *attr,
                      const char *value, bool absent, bool *out)
{
    if (!value)
        *out = absent;
    else if (!strcmp(value, "true"))
        *out = true;
    else if (!strcmp(value, "false"))
        *out = false;
    else
        return LD_ERROR(ld, node, "%s: %s must be \"true\" or \"false\", not \"%.60s\"", what, attr,
                        value);
    return DBSYNC_OK;
}

/* A whole number: 1 to 9 digits (the grammar's "number"). */
static int parse_number(loader *ld, xmlNode *node, const char *what, const char *attr,
                        const char *value, unsigned *out)
{
    size_t n = strlen(value);
    bool ok = n >= 1 && n <= 9;
    unsigned v = 0;
    for (size_t i = 0; i < n && ok; i++) {
        ok = value[i] >= '0' && value[i] <= '9';
        v = v * 10 + (unsigned)(value[i] - '0');
    }
    if (!ok)
        return LD_ERROR(ld, node, "%s: %s must be a whole number, not \"%.60s\"", what, attr,
                        value);
    *out = v;
    return DBSYNC_OK;
}

/* "(did you mean "X"?)" when @p name matches @p candidate ignoring case. */
static const char *did_you_mean(char *buf, size_t size, const char *name, const char *candidate)
{
    if (candidate && !strcasecmp(name, candidate)) {
        snprintf(buf, size, " (did you mean \"%s\"?)", candidate);
        return buf;
    }
    return "";
}

static const char *const schema_attributes[] = {"name", "version", NULL};
static const char *const table_attributes[] = {"name", "sync", NULL};
static const char *const column_attributes[] = {
    "name",  "type",    "primary-key", "nullable",  "length", "precision",
    "scale", "default", "references",  "on-delete", NULL,
};
static const char *const key_attributes[] = {"columns", NULL};
static const char *const schema_children[] = {"table", NULL};
static const char *const table_children[] = {"column", "unique", "index", NULL};
static const char *const no_children[] = {NULL};

static int build_table_head(loader *ld, xmlNode *node, size_t ti)
{
    dbsync_table *t = (dbsync_table *)&ld->schema->tables[ti];
    const char *name, *sync;
    int rc;
    if ((rc = get_attr(ld, node, "name", &name)) || (rc = get_attr(ld, node, "sync", &sync)))
        return rc;
    char what[96];
    if (name)
        snprintf(what, sizeof what, "table \"%.63s\"", name);
    else
        snprintf(what, sizeof what, "table");
    if ((rc = check_attributes(ld, node, what, table_attributes)))
        return rc;
    if (!name)
        return LD_ERROR(ld, node, "%s: missing attribute \"name\"", what);
    bool synced;
    if ((rc = parse_bool(ld, node, what, "sync", sync, true, &synced)))
        return rc;
    t->name = name;
    t->flags = synced ? DBSYNC_TABLE_SYNCED : 0;
    t->line = node_line(node);
    return dbsync__check_table_head(ld->schema, ti, ld->err);
}

static int build_column(loader *ld, xmlNode *node, size_t ti, size_t ci)
{
    dbsync_schema *s = ld->schema;
    dbsync_table *t = (dbsync_table *)&s->tables[ti];
    dbsync_column *c = (dbsync_column *)&t->columns[ci];
    /* Indexes into column_attributes. */
    enum {
        NAME,
        TYPE,
        PK,
        NULLABLE,
        LENGTH,
        PRECISION,
        SCALE,
        DEFAULT,
        REFERENCES,
        ON_DELETE,
        N_ATTRIBUTES
    };
    const char *v[N_ATTRIBUTES] = {NULL};
    int rc;
    for (int i = 0; i < N_ATTRIBUTES; i++)
        if ((rc = get_attr(ld, node, column_attributes[i], &v[i])))
            return rc;
    char what[160];
    if (v[NAME])
        snprintf(what, sizeof what, "column \"%.63s\" of table \"%s\"", v[NAME], t->name);
    else
        snprintf(what, sizeof what, "column of table \"%s\"", t->name);
    size_t none[1];
    if ((rc = check_attributes(ld, node, what, column_attributes)) ||
        (rc = check_children(ld, node, what, no_children, NULL, none)))
        return rc;
    if (!v[NAME])
        return LD_ERROR(ld, node, "%s: missing attribute \"name\"", what);
    if (!v[TYPE])
        return LD_ERROR(ld, node, "%s: missing attribute \"type\"", what);
    c->name = v[NAME];
    c->line = node_line(node);
    c->type = dbsync__type_from_name(v[TYPE]);
    if (!c->type)
        return LD_ERROR(ld, node,
                        "%s: unknown type \"%.60s\" (expected integer, boolean, real, decimal, "
                        "text, blob, date, time or datetime)",
                        what, v[TYPE]);
    bool pk, nullable;
    if ((rc = parse_bool(ld, node, what, "primary-key", v[PK], false, &pk)) ||
        (rc = parse_bool(ld, node, what, "nullable", v[NULLABLE], !pk, &nullable)))
        return rc;
    if (pk && nullable)
        return LD_ERROR(ld, node, "%s: a primary key cannot be nullable", what);
    c->flags = (pk ? DBSYNC_COLUMN_PRIMARY_KEY : 0) | (nullable ? DBSYNC_COLUMN_NULLABLE : 0);
    if (v[LENGTH]) {
        if (c->type != DBSYNC_TYPE_TEXT)
            return LD_ERROR(ld, node, "%s: length is only allowed on text columns", what);
        if ((rc = parse_number(ld, node, what, "length", v[LENGTH], &c->length)))
            return rc;
        if (c->length == 0)
            return LD_ERROR(ld, node, "%s: length must be at least 1", what);
    }
    if ((v[PRECISION] || v[SCALE]) && c->type != DBSYNC_TYPE_DECIMAL)
        return LD_ERROR(ld, node, "%s: %s is only allowed on decimal columns", what,
                        v[PRECISION] ? "precision" : "scale");
    if (c->type == DBSYNC_TYPE_DECIMAL && !v[PRECISION])
        return LD_ERROR(ld, node, "%s: a decimal column needs a precision (1 to 65)", what);
    if (v[PRECISION] &&
        (rc = parse_number(ld, node, what, "precision", v[PRECISION], &c->precision)))
        return rc;
    if (v[SCALE] && (rc = parse_number(ld, node, what, "scale", v[SCALE], &c->scale)))
        return rc;
    c->ref_table = -1;
    if (v[REFERENCES]) {
        for (size_t i = 0; i < s->n_tables && c->ref_table < 0; i++)
            if (!strcmp(s->tables[i].name, v[REFERENCES]))
                c->ref_table = (int)i;
        if (c->ref_table < 0) {
            char hint[100] = "";
            for (size_t i = 0; i < s->n_tables && !*hint; i++)
                did_you_mean(hint, sizeof hint, v[REFERENCES], s->tables[i].name);
            return LD_ERROR(ld, node,
                            "table \"%s\": column \"%s\" references unknown table "
                            "\"%.63s\"%s",
                            t->name, c->name, v[REFERENCES], hint);
        }
    }
    c->on_delete = DBSYNC_ON_DELETE_RESTRICT;
    if (v[ON_DELETE]) {
        if (!v[REFERENCES])
            return LD_ERROR(ld, node, "%s: on-delete is only allowed with references", what);
        if (!strcmp(v[ON_DELETE], "restrict"))
            c->on_delete = DBSYNC_ON_DELETE_RESTRICT;
        else if (!strcmp(v[ON_DELETE], "cascade"))
            c->on_delete = DBSYNC_ON_DELETE_CASCADE;
        else if (!strcmp(v[ON_DELETE], "set-null"))
            c->on_delete = DBSYNC_ON_DELETE_SET_NULL;
        else
            return LD_ERROR(ld, node,
                            "%s: unknown on-delete action \"%.60s\" (expected restrict, cascade "
                            "or set-null)",
                            what, v[ON_DELETE]);
    }
    c->default_value = v[DEFAULT];
    c->offset = 0;
    c->has_offset = DBSYNC_NO_OFFSET;
    t->n_columns = ci + 1;
    if ((rc = dbsync__check_column(s, ti, ci, ld->err)))
        return rc;
    if (c->default_value) {
        char out[DBSYNC__DEFAULT_BUFSIZE], why[160];
        const char *canon;
        rc = dbsync__default_canonical(c, c->default_value, out, &canon, why, sizeof why);
        if (rc == DBSYNC_OK && canon == out &&
            !(c->default_value = dbsync__arena_strdup(ld->arena, out)))
            rc = DBSYNC_ERROR;
        if (rc != DBSYNC_OK) /* checked above: only out of memory is left */
            return dbsync__error_nomem(ld->err);
    }
    return DBSYNC_OK;
}

static int build_key(loader *ld, xmlNode *node, const dbsync_table *t, dbsync_key *key,
                     const char *kind)
{
    const char *list;
    int rc;
    if ((rc = get_attr(ld, node, "columns", &list)))
        return rc;
    char what[96];
    snprintf(what, sizeof what, "%s of table \"%s\"", kind, t->name);
    size_t none[1];
    if ((rc = check_attributes(ld, node, what, key_attributes)) ||
        (rc = check_children(ld, node, what, no_children, NULL, none)))
        return rc;
    if (!list)
        return LD_ERROR(ld, node, "%s: missing attribute \"columns\"", what);
    static const char *const space = " \t\r\n";
    size_t n = 0;
    for (const char *p = list + strspn(list, space); *p; p += strspn(p, space)) {
        p += strcspn(p, space);
        n++;
    }
    if (n == 0)
        return LD_ERROR(ld, node, "%s: no columns (columns lists names separated by spaces)", what);
    unsigned *columns = dbsync__arena_alloc(ld->arena, n * sizeof *columns);
    if (!columns)
        return dbsync__error_nomem(ld->err);
    size_t i = 0;
    for (const char *p = list + strspn(list, space); *p; p += strspn(p, space)) {
        size_t len = strcspn(p, space);
        int found = -1;
        for (size_t j = 0; j < t->n_columns && found < 0; j++)
            if (strlen(t->columns[j].name) == len && !strncmp(t->columns[j].name, p, len))
                found = (int)j;
        if (found < 0) {
            char name[64], hint[100] = "";
            snprintf(name, sizeof name, "%.*s", (int)(len < 63 ? len : 63), p);
            for (size_t j = 0; j < t->n_columns && !*hint; j++)
                did_you_mean(hint, sizeof hint, name, t->columns[j].name);
            return LD_ERROR(ld, node, "%s: unknown column \"%s\"%s", what, name, hint);
        }
        columns[i++] = (unsigned)found;
        p += len;
    }
    key->n_columns = n;
    key->columns = columns;
    key->name = NULL; /* named once all keys are known */
    key->line = node_line(node);
    return DBSYNC_OK;
}

static int build_table_body(loader *ld, xmlNode *node, size_t ti)
{
    dbsync_schema *s = ld->schema;
    dbsync_table *t = (dbsync_table *)&s->tables[ti];
    char what[96];
    snprintf(what, sizeof what, "table \"%s\"", t->name);
    size_t counts[3];
    int rc =
        check_children(ld, node, what, table_children, "<column>, <unique> or <index>", counts);
    if (rc)
        return rc;
    if (counts[0] == 0)
        return LD_ERROR(ld, node, "table \"%s\" has no columns", t->name);
    dbsync_column *columns = dbsync__arena_alloc(ld->arena, counts[0] * sizeof *columns);
    dbsync_key *uniques = dbsync__arena_alloc(ld->arena, (counts[1] + 1) * sizeof *uniques);
    dbsync_key *indexes = dbsync__arena_alloc(ld->arena, (counts[2] + 1) * sizeof *indexes);
    if (!columns || !uniques || !indexes)
        return dbsync__error_nomem(ld->err);
    t->columns = columns;
    t->uniques = uniques;
    t->indexes = indexes;
    t->struct_size = 0;
    size_t ci = 0;
    for (xmlNode *c = node->children; c; c = c->next) {
        if (!is_element(c, "column"))
            continue;
        if ((rc = build_column(ld, c, ti, ci)))
            return rc;
        if ((columns[ci].flags & DBSYNC_COLUMN_PRIMARY_KEY) &&
            !(columns[t->primary_key].flags & DBSYNC_COLUMN_PRIMARY_KEY))
            t->primary_key = (unsigned)ci;
        ci++;
    }
    for (xmlNode *c = node->children; c; c = c->next) {
        if (is_element(c, "unique")) {
            if ((rc = build_key(ld, c, t, &uniques[t->n_uniques], "unique")))
                return rc;
            t->n_uniques++;
        } else if (is_element(c, "index")) {
            if ((rc = build_key(ld, c, t, &indexes[t->n_indexes], "index")))
                return rc;
            t->n_indexes++;
        }
    }
    return dbsync__check_table_tail(s, ti, ld->err);
}

/* Fills ld->schema from the document, checking everything. */
static int build(loader *ld, xmlNode *root)
{
    dbsync_schema *s = ld->schema;
    int rc;
    if (!root)
        return dbsync__schema_error(ld->err, ld->file, 1, "the document has no root element");
    if (root->ns && root->ns->href)
        return LD_ERROR(ld, root,
                        "the root element <%.60s> is in namespace \"%.100s\"; schema files use "
                        "no namespace",
                        (const char *)root->name, (const char *)root->ns->href);
    if (!is_element(root, "schema"))
        return LD_ERROR(ld, root, "the root element is <%.60s>, expected <schema>",
                        (const char *)root->name);
    const char *name, *version;
    if ((rc = get_attr(ld, root, "name", &name)) || (rc = get_attr(ld, root, "version", &version)))
        return rc;
    char what[96];
    if (name)
        snprintf(what, sizeof what, "schema \"%.63s\"", name);
    else
        snprintf(what, sizeof what, "schema");
    size_t n_tables;
    if ((rc = check_attributes(ld, root, what, schema_attributes)))
        return rc;
    if (!name)
        return LD_ERROR(ld, root, "%s: missing attribute \"name\"", what);
    const char *problem = dbsync__name_problem(name, false);
    if (problem)
        return LD_ERROR(ld, root, "%s: the name %s", what, problem);
    s->name = name;
    s->version = version;
    if ((rc = check_children(ld, root, what, schema_children, "<table>", &n_tables)))
        return rc;
    if (n_tables == 0)
        return LD_ERROR(ld, root, "%s has no tables", what);
    dbsync_table *tables = dbsync__arena_alloc(ld->arena, n_tables * sizeof *tables);
    if (!tables)
        return dbsync__error_nomem(ld->err);
    s->tables = tables;
    s->n_tables = n_tables;
    /* Table names first: references may point forward. */
    size_t ti = 0;
    for (xmlNode *c = root->children; c; c = c->next)
        if (is_element(c, "table") && (rc = build_table_head(ld, c, ti++)))
            return rc;
    ti = 0;
    for (xmlNode *c = root->children; c; c = c->next)
        if (is_element(c, "table") && (rc = build_table_body(ld, c, ti++)))
            return rc;
    if ((rc = dbsync__schema_name_keys(s, ld->arena, ld->err)))
        return rc;
    return dbsync__schema_check(s, ld->err);
}

/* ---- loading ---- */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* libxml2 initializes its parser and the RELAX NG type library lazily and
 * without a lock; do it once here. */
static void init_libxml(void)
{
    xmlInitParser();
    xmlRelaxNGInitTypes();
}

static int load(dbsync_schema **out, const char *data, size_t len, const char *file,
                dbsync_error *err)
{
    int rc = DBSYNC_ERROR;
    xml_capture parse_cap = {0}, grammar_cap = {0}, valid_cap = {0};
#if LIBXML_VERSION < 21200
    xml_capture stray_cap = {0};
    xmlStructuredErrorFunc old_serror = xmlStructuredError;
    void *old_sctx = xmlStructuredErrorContext;
    xmlGenericErrorFunc old_gerror = xmlGenericError;
    void *old_gctx = xmlGenericErrorContext;
    xmlSetStructuredErrorFunc(&stray_cap, capture_error);
    xmlSetGenericErrorFunc(NULL, silent_generic);
#endif
    xmlParserCtxtPtr pctxt = NULL;
    xmlDocPtr doc = NULL;
    xmlRelaxNGParserCtxtPtr gctxt = NULL;
    xmlRelaxNGPtr rng = NULL;
    xmlRelaxNGValidCtxtPtr vctxt = NULL;
    dbsync_schema *s = NULL;
    int valid = -1;

    pthread_once(&init_once, init_libxml);
    if (len == 0) {
        rc = dbsync__schema_error(err, file, 1, "the file is empty");
        goto done;
    }
    if (len > INT_MAX) {
        rc = dbsync__schema_error(err, file, 0, "the file is too large");
        goto done;
    }
    pctxt = xmlNewParserCtxt();
    if (!pctxt || !pctxt->sax) {
        rc = dbsync__error_nomem(err);
        goto done;
    }
    pctxt->_private = &parse_cap;
    pctxt->sax->serror = parser_error;
    doc = xmlCtxtReadMemory(pctxt, data, (int)len, file, NULL, PARSE_OPTIONS);
    if (!doc) {
        rc = capture_report(err, file, &parse_cap, "XML syntax error");
        goto done;
    }

    gctxt = xmlRelaxNGNewMemParserCtxt(grammar, (int)strlen(grammar));
    if (gctxt) {
        xmlRelaxNGSetParserStructuredErrors(gctxt, capture_error, &grammar_cap);
        rng = xmlRelaxNGParse(gctxt);
    }
    if (rng && (vctxt = xmlRelaxNGNewValidCtxt(rng)))
        xmlRelaxNGSetValidStructuredErrors(vctxt, capture_error, &valid_cap);
    if (!vctxt) {
        rc = dbsync__error_set(err, DBSYNC_ERROR, DBSYNC_ECLASS_SCHEMA,
                               "the embedded RELAX NG grammar cannot be used: %s",
                               grammar_cap.have ? grammar_cap.first : "out of memory");
        goto done;
    }
    valid = xmlRelaxNGValidateDoc(vctxt, doc);

    s = dbsync__schema_new();
    if (!s || !(s->file = dbsync__arena_strdup(dbsync__schema_arena(s), file))) {
        rc = dbsync__error_nomem(err);
        goto done;
    }
    loader ld = {file, s, dbsync__schema_arena(s), err};
    rc = build(&ld, xmlDocGetRootElement(doc));
    if (rc == DBSYNC_OK && valid != 0) {
        /* The grammar refused what the builder accepts: report libxml2's
         * words (a gap between the two that a test should catch). */
        rc = capture_report(err, file, &valid_cap, "does not match the schema grammar");
    }
    if (rc != DBSYNC_OK)
        goto done;
    *out = s;
    s = NULL;

done:
    dbsync_schema_free(s);
    xmlRelaxNGFreeValidCtxt(vctxt);
    xmlRelaxNGFree(rng);
    xmlRelaxNGFreeParserCtxt(gctxt);
    xmlFreeDoc(doc);
    xmlFreeParserCtxt(pctxt);
#if LIBXML_VERSION < 21200
    xmlSetStructuredErrorFunc(old_sctx, old_serror);
    xmlSetGenericErrorFunc(old_gctx, old_gerror);
#endif
    return rc;
}

int dbsync_schema_load_memory(dbsync_schema **out, const char *xml, size_t len, const char *name,
                              dbsync_error *err)
{
    if (!out || (!xml && len))
        return dbsync__error_set(err, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG,
                                 "dbsync_schema_load_memory: out and xml must not be NULL");
    *out = NULL;
    return load(out, xml ? xml : "", len, name ? name : "<memory>", err);
}

/* Reads a whole file. */
static int read_file(const char *path, dbsync__buf *b, dbsync_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        if (e == ENOENT || e == ENOTDIR)
            return dbsync__error_set(err, DBSYNC_ENOTFOUND, DBSYNC_ECLASS_OS, "%s: no such file",
                                     path);
        return dbsync__error_set(err, DBSYNC_ERROR, DBSYNC_ECLASS_OS, "%s: cannot open: %s", path,
                                 e == EACCES ? "permission denied" : "system error");
    }
    int rc = DBSYNC_OK;
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        dbsync__buf_append(b, chunk, n);
        if (b->len > MAX_FILE_SIZE) {
            rc = dbsync__schema_error(err, path, 0, "the file is too large");
            goto done;
        }
    }
    if (ferror(f)) {
        int e = errno;
        rc = dbsync__error_set(err, DBSYNC_ERROR, DBSYNC_ECLASS_OS, "%s: cannot read: %s", path,
                               e == EISDIR ? "it is a directory" : "system error");
        goto done;
    }
    if (b->oom)
        rc = dbsync__error_nomem(err);
done:
    fclose(f);
    return rc;
}

int dbsync_schema_load_file(dbsync_schema **out, const char *path, dbsync_error *err)
{
    if (!out || !path)
        return dbsync__error_set(err, DBSYNC_EINVALID, DBSYNC_ECLASS_ARG,
                                 "dbsync_schema_load_file: out and path must not be NULL");
    *out = NULL;
    dbsync__buf b = DBSYNC__BUF_INIT;
    int rc = read_file(path, &b, err);
    if (rc == DBSYNC_OK)
        rc = load(out, b.data ? b.data : "", b.len, path, err);
    dbsync__buf_free(&b);
    return rc;
}
