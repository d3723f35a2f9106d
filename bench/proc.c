/*
 * chat-bench --server-pid: what the server costs, read from /proc (Linux).
 * The server's CPU time over the sending phase divided by deliveries is
 * the figure that compares servers when generator and server share the
 * machine and deliveries/s saturates; its memory growth over the setup,
 * divided by connections, is the cost of an idle client. The machine's
 * busy time over the same phase shows how much else was running.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

/* The whole file (up to size - 1 bytes), NUL-terminated; -1 if unreadable. */
static int slurp(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "r");
    size_t n;

    if (!f)
        return -1;
    n = fread(buf, 1, size - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n > 0 ? 0 : -1;
}

/* Past n space-separated fields. */
static const char *skip_fields(const char *p, int n)
{
    while (n-- > 0 && p) {
        p = strchr(p, ' ');
        if (p)
            p++;
    }
    return p;
}

/* utime and stime from /proc/PID/stat: the 12th and 13th fields after the
 * command name, which may itself hold spaces and parentheses. */
static int read_cpu(long pid, double *cpu_s)
{
    char path[64], buf[1024], *end;
    const char *p;
    unsigned long long ut, st;
    long hz = sysconf(_SC_CLK_TCK);

    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    if (hz <= 0 || slurp(path, buf, sizeof buf) < 0 ||
        !(p = strrchr(buf, ')')))
        return -1;
    /* ") state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
       cmajflt utime stime" */
    if (!(p = skip_fields(p, 12)))
        return -1;
    ut = strtoull(p, &end, 10);
    if (end == p || !(p = skip_fields(p, 1)))
        return -1;
    st = strtoull(p, &end, 10);
    if (end == p)
        return -1;
    *cpu_s = (double)(ut + st) / (double)hz;
    return 0;
}

static int read_rss(long pid, long *rss_kib)
{
    char path[64], buf[4096], *end;
    const char *p;

    snprintf(path, sizeof path, "/proc/%ld/status", pid);
    if (slurp(path, buf, sizeof buf) < 0 || !(p = strstr(buf, "\nVmRSS:")))
        return -1;
    *rss_kib = strtol(p + 7, &end, 10);
    return end == p + 7 ? -1 : 0;
}

int bench_proc_read(long pid, double *cpu_s, long *rss_kib)
{
    return read_cpu(pid, cpu_s) == 0 && read_rss(pid, rss_kib) == 0 ? 0 : -1;
}

double bench_machine_busy_s(void)
{
    char buf[512], *end;
    const char *p = buf + 4;
    unsigned long long busy = 0;
    long hz = sysconf(_SC_CLK_TCK);

    if (hz <= 0 || slurp("/proc/stat", buf, sizeof buf) < 0 ||
        strncmp(buf, "cpu ", 4) != 0)
        return -1;
    /* user nice system idle iowait irq softirq steal: all but idle and
       iowait are busy */
    for (int i = 0; i < 8; i++) {
        unsigned long long v = strtoull(p, &end, 10);

        if (end == p)
            return -1;
        if (i != 3 && i != 4)
            busy += v;
        p = end;
    }
    return (double)busy / (double)hz;
}
