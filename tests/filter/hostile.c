/*
 * Filter programs for chatd --filter-exec that behave well, oddly or
 * badly (test_filter.c). Requests are read with sscanf on purpose: this
 * does not share chatd's parser, so it cannot share its mistakes.
 *
 *   hostile allow         answer allow to everything
 *   hostile record FILE   append each request line to FILE, then allow
 *   hostile hold          keep requests whose text starts with "hold"
 *                         until one whose text is "release" comes; then
 *                         answer that one first and the kept ones last
 *                         to first (answers in any order)
 *   hostile hang          read everything, answer nothing
 *   hostile deaf          never read stdin at all
 *   hostile die-after N   answer N requests, then exit 3 on the next
 *   hostile flood         before each answer: garbage of every kind, and
 *                         first of all a line of 1 MiB
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_HELD 64

static char line[1 << 16];

static unsigned long long id_of(const char *l)
{
    unsigned long long id = 0;

    if (sscanf(l, "{\"id\":%llu,", &id) != 1) {
        fprintf(stderr, "hostile: no id in: %s", l);
        exit(4);
    }
    return id;
}

static int text_is(const char *l, const char *prefix)
{
    const char *t = strstr(l, ",\"text\":\"");

    return t && strncmp(t + 9, prefix, strlen(prefix)) == 0;
}

static void allow(unsigned long long id)
{
    printf("{\"id\":%llu,\"verdict\":\"allow\"}\n", id);
    fflush(stdout);
}

/* Garbage of every kind a program can write, then nothing useful. */
static void garbage(int first)
{
    static const char *const junk[] = {
        "not json at all",
        "{\"id\":1,\"verdict\":\"maybe\"}",
        "{\"id\":999999999,\"verdict\":\"allow\"}",
        "{\"id\":1,\"verdict\":\"allow\",\"extra\":true}",
        "{\"verdict\":\"drop\"}",
        "\xff\xfe\x01\x02 binary",
        "",
        "[1,2,3]",
    };

    if (first) { /* one line far past any limit */
        char big[1024];
        memset(big, 'g', sizeof big);
        for (int i = 0; i < 1024; i++)
            fwrite(big, 1, sizeof big, stdout);
        putchar('\n');
    }
    for (int i = 0; i < 50; i++)
        for (size_t j = 0; j < sizeof junk / sizeof junk[0]; j++)
            printf("%s\n", junk[j]);
    for (int i = 0; i < 10 * 1024; i++)
        putchar('x');
    putchar('\n');
}

static void hold_mode(void)
{
    unsigned long long held[MAX_HELD];
    int n = 0;

    while (fgets(line, sizeof line, stdin)) {
        unsigned long long id = id_of(line);
        if (text_is(line, "hold") && n < MAX_HELD) {
            held[n++] = id;
            continue;
        }
        allow(id);
        if (text_is(line, "release\""))
            while (n > 0)
                allow(held[--n]);
    }
}

static int run(const char *mode, const char *arg)
{
    long left = arg ? atol(arg) : 0;
    FILE *rec = NULL;
    int first = 1;

    if (!strcmp(mode, "deaf"))
        for (;;)
            pause();
    if (!strcmp(mode, "hold")) {
        hold_mode();
        return 0;
    }
    if (!strcmp(mode, "record") && !(rec = fopen(arg, "a")))
        return 5;
    while (fgets(line, sizeof line, stdin)) {
        unsigned long long id = id_of(line);
        if (!strcmp(mode, "hang"))
            continue;
        if (!strcmp(mode, "die-after") && left-- <= 0)
            return 3;
        if (rec) {
            fputs(line, rec);
            fflush(rec);
        }
        if (!strcmp(mode, "flood"))
            garbage(first);
        first = 0;
        allow(id);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: hostile MODE [ARG]\n");
        return 2;
    }
    return run(argv[1], argc > 2 ? argv[2] : NULL);
}
