/* SPDX-License-Identifier: MIT */
/*
 * bench/converge: the randomized convergence run of tests/test_converge.c
 * (tests/converge_core.h) at any size, for soaking the merge beyond what
 * make check affords:
 *   bench/converge [-s SEED] [-c COUNT] [-r ROUNDS] [-n NODES] [-o OPS] [-l] [-v[v]] [DIR]
 * runs COUNT seeds from SEED (default 1, 1), each with ROUNDS rounds
 * (default 100) of at most OPS writes (default 12) on NODES nodes (default
 * 5), databases in DIR (default a fresh folder under $TMPDIR, removed at
 * the end). -l works around the engine bugs already known, to look for
 * others; -v prints every write and sync, -vv the databases too. Prints one
 * line per seed; exits 1 at the first seed that fails, with its message.
 */
#include <dbsync/dbsync.h>

#include <getopt.h>

#include "../tests/converge_core.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(void)
{
    fprintf(stderr, "usage: converge [-s SEED] [-c COUNT] [-r ROUNDS] [-n NODES] [-o OPS] [-l] "
                    "[-v[v]] [DIR]\n");
    return 2;
}

static int positive(const char *s, long *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < 0)
        return -1;
    *out = v;
    return 0;
}

int main(int argc, char **argv)
{
    cv_config cfg = CV_CONFIG_INIT;
    long seed = 1, count = 1, rounds = 100, nodes = 5, ops = 12;
    int c;
    cfg.verbose = 0;
    while ((c = getopt(argc, argv, "s:c:r:n:o:lv")) != -1) {
        switch (c) {
        case 's':
            if (positive(optarg, &seed))
                return usage();
            break;
        case 'c':
            if (positive(optarg, &count))
                return usage();
            break;
        case 'r':
            if (positive(optarg, &rounds))
                return usage();
            break;
        case 'n':
            if (positive(optarg, &nodes) || nodes < 2 || nodes > 64)
                return usage();
            break;
        case 'o':
            if (positive(optarg, &ops) || ops < 1)
                return usage();
            break;
        case 'l':
            cfg.lenient = true;
            break;
        case 'v':
            cfg.verbose++;
            break;
        default:
            return usage();
        }
    }
    if (argc - optind > 1)
        return usage();
    char tmpl[1024];
    bool own_dir = optind == argc;
    if (own_dir) {
        const char *t = getenv("TMPDIR");
        snprintf(tmpl, sizeof tmpl, "%s/dbsync-converge.XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(tmpl)) {
            perror("converge: mkdtemp");
            return 1;
        }
        cfg.dir = tmpl;
    } else {
        cfg.dir = argv[optind];
    }
    cfg.rounds = (int)rounds;
    cfg.nodes = (int)nodes;
    cfg.max_ops = (int)ops;
    cv_ctx *x = malloc(sizeof *x);
    if (!x)
        return 1;
    int status = 0;
    double total = now();
    for (long i = 0; i < count && !status; i++) {
        cfg.seed = (uint64_t)(seed + i);
        double t0 = now();
        if (cv_run(x, &cfg)) {
            fprintf(stderr, "converge: FAILED %s\n", x->msg);
            status = 1;
            break;
        }
        char line[1024];
        cv_summary(x, line, sizeof line);
        printf("%s, %.2f s\n", line, now() - t0);
        fflush(stdout);
        if (own_dir) { /* the databases of a passing seed are of no more use */
            char path[1200];
            for (int n = -1; n < cfg.nodes; n++) {
                if (n < 0)
                    snprintf(path, sizeof path, "%s/cv%" PRIu64 "-server.db", cfg.dir, cfg.seed);
                else
                    snprintf(path, sizeof path, "%s/cv%" PRIu64 "-node%d.db", cfg.dir, cfg.seed, n);
                tu_sqlite_url(cfg.dir, strrchr(path, '/') + 1); /* removes the file and WAL */
            }
        }
    }
    if (!status)
        printf("%ld seeds passed in %.1f s\n", count, now() - total);
    else
        fprintf(stderr, "converge: the databases of the failing seed are in %s\n", cfg.dir);
    if (own_dir && !status)
        rmdir(cfg.dir);
    free(x);
    dbsync_global_cleanup();
    return status;
}
