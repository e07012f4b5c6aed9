/* SPDX-License-Identifier: MIT */
/*
 * bench/sync: SQLite nodes syncing through a real dbsyncd on loopback with
 * an SQLite server database, in one run:
 *   push   a node pushes N new rows (default 100,000);
 *   pull   a fresh node pulls and merges them;
 *   sync   two nodes each change C rows (default 1,000) of the N, half of
 *          them the same rows, offline; one syncs, then the other, whose
 *          sync pulls, merges the conflicts and pushes.
 * Times are wall-clock around the dbsync call only. Peak memory: the client
 * is measured in a child process per step (ru_maxrss), the server is the
 * daemon's VmHWM, a fresh daemon per step.
 *   bench/sync DBSYNCD [-n ROWS] [-c CONFLICTS] [-o FILE] [DIR]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <dbsync/dbsync.h>

static const char schema_xml[] =
    "<schema name=\"bench\" version=\"1\">\n"
    "  <table name=\"item\">\n"
    "    <column name=\"id\" type=\"integer\" primary-key=\"true\"/>\n"
    "    <column name=\"name\" type=\"text\" length=\"80\" nullable=\"false\"/>\n"
    "    <column name=\"price\" type=\"decimal\" precision=\"10\" scale=\"2\"/>\n"
    "    <column name=\"qty\" type=\"integer\" nullable=\"false\"/>\n"
    "    <column name=\"at\" type=\"datetime\"/>\n"
    "  </table>\n"
    "</schema>\n";

static dbsync_schema *schema;
static const char *dir, *dbsyncd;
static long rows = 100000, conflicts = 1000;

static void die(const char *what, const char *msg)
{
    fprintf(stderr, "bench/sync: %s: %s\n", what, msg);
    exit(1);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

typedef struct daemon_proc {
    pid_t pid;
    char url[64];
} daemon_proc;

static daemon_proc start_daemon(void)
{
    int fds[2];
    if (pipe(fds))
        die("pipe", "failed");
    daemon_proc d = {0, ""};
    char dbarg[1024], schemaarg[1024];
    snprintf(dbarg, sizeof dbarg, "sqlite3:%s/server.db", dir);
    snprintf(schemaarg, sizeof schemaarg, "%s/bench.xml", dir);
    d.pid = fork();
    if (d.pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        execl(dbsyncd, dbsyncd, "--db", dbarg, "--schema", schemaarg, "--listen", "127.0.0.1:0",
              "--quiet", (char *)NULL);
        _exit(127);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[256] = "";
    if (!fgets(line, sizeof line, f))
        die("dbsyncd", "did not start");
    fclose(f);
    char *hp = strstr(line, "listening on ");
    if (!hp)
        die("dbsyncd", line);
    hp += strlen("listening on ");
    hp[strcspn(hp, "\r\n")] = '\0';
    snprintf(d.url, sizeof d.url, "http://%s", hp);
    return d;
}

static long stop_daemon(daemon_proc d)
{
    char path[64], line[256];
    long hwm = 0;
    snprintf(path, sizeof path, "/proc/%d/status", (int)d.pid);
    FILE *f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6))
            hwm = atol(line + 6);
    if (f)
        fclose(f);
    kill(d.pid, SIGTERM);
    waitpid(d.pid, NULL, 0);
    return hwm; /* KiB */
}

static dbsync_conn *open_node(const char *name)
{
    char url[1024];
    dbsync_conn *c;
    dbsync_error err;
    snprintf(url, sizeof url, "sqlite3:%s/%s", dir, name);
    if (dbsync_conn_open(&c, url, schema, &err))
        die(name, err.message);
    if (dbsync_conn_create_all(c))
        die(name, dbsync_conn_error(c)->message);
    return c;
}

static void check(dbsync_conn *c, int rc, const char *what)
{
    if (rc)
        die(what, dbsync_conn_error(c)->message);
}

static void fill(dbsync_conn *c, long n)
{
    const dbsync_table *t = &schema->tables[0];
    check(c, dbsync_conn_begin(c), "begin");
    for (long i = 0; i < n; i++) {
        dbsync_value v[5];
        char name[64], price[32];
        dbsync_row_init(t, v);
        snprintf(name, sizeof name, "item %ld", i);
        snprintf(price, sizeof price, "%ld.%02ld", i % 10000, i % 100);
        dbsync_value_parse(&v[1], t, &t->columns[1], name, NULL);
        dbsync_value_parse(&v[2], t, &t->columns[2], price, NULL);
        v[3].is_null = false;
        v[3].u.i = i;
        dbsync_value_parse(&v[4], t, &t->columns[4], "2026-11-26 10:00:00", NULL);
        v[4].is_null = false;
        check(c, dbsync_row_insert(c, t, v), "insert");
        dbsync_row_clear(t, v);
    }
    check(c, dbsync_conn_commit(c), "commit");
}

static void change(dbsync_conn *c, long first, long n, const char *tag)
{
    const dbsync_table *t = &schema->tables[0];
    check(c, dbsync_conn_begin(c), "begin");
    for (long id = first; id < first + n; id++) {
        dbsync_value v[5];
        check(c, dbsync_row_get(c, t, id, v), "get");
        char name[64];
        snprintf(name, sizeof name, "%s %ld", tag, id);
        dbsync_value_clear(&v[1]);
        dbsync_value_parse(&v[1], t, &t->columns[1], name, NULL);
        check(c, dbsync_row_update(c, t, v, NULL), "update");
        dbsync_row_clear(t, v);
    }
    check(c, dbsync_conn_commit(c), "commit");
}

/* Runs one step in a child: prints "seconds client-KiB" on the pipe. */
typedef void (*step_fn)(const char *url, double *seconds);

static void run_step(step_fn fn, const char *url, double *seconds, long *client_kib)
{
    int fds[2];
    if (pipe(fds))
        die("pipe", "failed");
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        double s = 0;
        fn(url, &s);
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        dprintf(fds[1], "%f %ld\n", s, ru.ru_maxrss);
        _exit(0);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    if (!f || fscanf(f, "%lf %ld", seconds, client_kib) != 2)
        die("step", "the child failed");
    fclose(f);
    int status;
    waitpid(pid, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status))
        die("step", "the child failed");
}

static void step_push(const char *url, double *s)
{
    dbsync_conn *a = open_node("a.db");
    check(a, dbsync_register(a, url, NULL), "register a");
    fill(a, rows);
    double t0 = now();
    check(a, dbsync_push(a, url, NULL), "push");
    *s = now() - t0;
    dbsync_conn_close(a);
}

static void step_pull(const char *url, double *s)
{
    dbsync_conn *b = open_node("b.db");
    check(b, dbsync_register(b, url, NULL), "register b");
    double t0 = now();
    check(b, dbsync_pull(b, url, NULL), "pull");
    *s = now() - t0;
    dbsync_status st;
    check(b, dbsync_status_get(b, &st), "status");
    dbsync_conn_close(b);
}

static void step_sync(const char *url, double *s)
{
    dbsync_conn *a = open_node("a.db"), *b = open_node("b.db");
    change(a, 1, conflicts, "from a");
    change(b, 1 + conflicts / 2, conflicts, "from b");
    check(a, dbsync_sync(a, url, NULL), "sync a");
    double t0 = now();
    check(b, dbsync_sync(b, url, NULL), "sync b");
    *s = now() - t0;
    check(a, dbsync_pull(a, url, NULL), "pull a");
    dbsync_conn_close(a);
    dbsync_conn_close(b);
}

int main(int argc, char **argv)
{
    const char *out = NULL;
    int opt;
    if (argc < 2) {
        fprintf(stderr, "usage: bench/sync DBSYNCD [-n ROWS] [-c CONFLICTS] [-o FILE] [DIR]\n");
        return 2;
    }
    dbsyncd = argv[1];
    optind = 2;
    while ((opt = getopt(argc, argv, "n:c:o:")) != -1) {
        if (opt == 'n')
            rows = atol(optarg);
        else if (opt == 'c')
            conflicts = atol(optarg);
        else if (opt == 'o')
            out = optarg;
        else
            return 2;
    }
    dir = optind < argc ? argv[optind] : ".";
    if (rows <= 0 || conflicts <= 0 || conflicts * 2 > rows) {
        fprintf(stderr, "bench/sync: need 0 < 2 * CONFLICTS <= ROWS\n");
        return 2;
    }
    char path[1024];
    const char *files[] = {"server.db", "a.db", "b.db"};
    for (int i = 0; i < 3; i++) {
        const char *suffix[] = {"", "-wal", "-shm"};
        for (int k = 0; k < 3; k++) {
            snprintf(path, sizeof path, "%s/%s%s", dir, files[i], suffix[k]);
            unlink(path);
        }
    }
    snprintf(path, sizeof path, "%s/bench.xml", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        die("write", path);
    fputs(schema_xml, f);
    fclose(f);
    dbsync_error err;
    if (dbsync_schema_load_memory(&schema, schema_xml, sizeof schema_xml - 1, "bench.xml", &err))
        die("schema", err.message);
    double secs[3];
    long client[3], server[3];
    step_fn steps[3] = {step_push, step_pull, step_sync};
    for (int i = 0; i < 3; i++) {
        daemon_proc d = start_daemon();
        run_step(steps[i], d.url, &secs[i], &client[i]);
        server[i] = stop_daemon(d);
    }
    char table[2048];
    snprintf(table, sizeof table,
             "| step (SQLite node -> dbsyncd -> SQLite server, loopback) | seconds | client peak MiB | server peak MiB |\n"
             "|---|---:|---:|---:|\n"
             "| push of %ld new rows | %.3f | %.1f | %.1f |\n"
             "| fresh pull + merge of %ld rows | %.3f | %.1f | %.1f |\n"
             "| sync with %ld conflicting rows on each side of a %ld-row table | %.3f | %.1f | %.1f |\n",
             rows, secs[0], client[0] / 1024.0, server[0] / 1024.0, rows, secs[1],
             client[1] / 1024.0, server[1] / 1024.0, conflicts, rows, secs[2], client[2] / 1024.0,
             server[2] / 1024.0);
    fputs(table, stdout);
    if (out) {
        f = fopen(out, "w");
        if (!f)
            die("write", out);
        fputs(table, f);
        fclose(f);
    }
    dbsync_schema_free(schema);
    return 0;
}
