/* SPDX-License-Identifier: MIT */
/*
 * Command-line options of the form "--name VALUE" or "--name=VALUE",
 * shared by the dbsync tool and dbsyncd. The caller prints the message.
 */
#ifndef DBSYNC_TOOLS_OPTIONS_H
#define DBSYNC_TOOLS_OPTIONS_H

#include <stdio.h>
#include <string.h>

/*
 * Reads the option at argv[*i] named name (without "--"). Returns 1 when it
 * matched (*value set, *i moved past its value), 0 when it did not, -1 on
 * a usage error with the reason in why.
 */
static inline int tool_option(int argc, char **argv, int *i, const char *name,
                              const char **value, char *why, size_t why_size)
{
    const char *arg = argv[*i] + 2;
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0 || (arg[n] != '\0' && arg[n] != '='))
        return 0;
    const char *v;
    if (arg[n] == '=') {
        v = arg + n + 1;
    } else {
        if (*i + 1 >= argc) {
            snprintf(why, why_size, "option --%s needs a value", name);
            return -1;
        }
        v = argv[++*i];
    }
    if (*value) {
        snprintf(why, why_size, "option --%s given twice", name);
        return -1;
    }
    *value = v;
    return 1;
}

#endif
