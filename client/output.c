/*
 * chat-cli: what reaches the screen. Server lines go to stdout: unchanged
 * when piped, coloured and above the prompt in a terminal. The client's
 * own notices go to stderr as "chat-cli: ..." or, at the prompt, as
 * "-- ..." lines, so a script's stdout holds only what the server said.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <readline/readline.h>

#include "cli.h"

#define SGR_RESET "\033[0m"
#define SGR_NOTE "\033[33m" /* the client's own notices */

static const char *const kind_sgr[] = {
    [CLI_KIND_OWN] = "\033[32m",      /* green */
    [CLI_KIND_OTHER] = "\033[1;34m",  /* bold blue, the speaker only */
    [CLI_KIND_DIRECT] = "\033[35m",   /* magenta */
    [CLI_KIND_NOTICE] = "\033[36m",   /* cyan */
    [CLI_KIND_ERROR] = "\033[31m",    /* red */
};

/*
 * Printing above the prompt: wipe the prompt and the half-typed line, print,
 * then let readline draw them again below, unchanged. Readline before 8.0
 * lacks rl_clear_visible_line; there the text is saved and put back.
 */
struct above {
    char *text;
#ifndef HAVE_RL_CLEAR_VISIBLE_LINE
    int point;
#endif
};

static void above_begin(const struct cli *c, struct above *a)
{
    a->text = NULL;
    if (!c->rl_installed)
        return;
#ifdef HAVE_RL_CLEAR_VISIBLE_LINE
    rl_clear_visible_line();
#else
    a->point = rl_point;
    a->text = rl_copy_text(0, rl_end);
    if (!a->text) { /* cannot save it: keep it on screen, print below */
        fputc('\n', stdout);
        return;
    }
    rl_save_prompt();
    rl_replace_line("", 0);
    rl_redisplay();
#endif
}

static void above_end(struct cli *c, struct above *a)
{
    if (!c->rl_installed)
        return;
    c->at_line_start = 0; /* the prompt is back on the cursor's line */
#ifndef HAVE_RL_CLEAR_VISIBLE_LINE
    if (a->text) {
        rl_restore_prompt();
        rl_replace_line(a->text, 0);
        rl_point = a->point;
        free(a->text);
        rl_redisplay();
        return;
    }
#endif
    (void)a;
    rl_on_new_line();
    rl_redisplay();
}

/*
 * Write s, turning control characters (C0, DEL, and C1 as UTF-8) into '?'
 * when clean is set: chatd strips them already, but a terminal must not
 * obey escape sequences from whatever server we reached.
 */
static void put_text(const char *s, size_t len, int clean)
{
    size_t start = 0;

    for (size_t i = 0; clean && i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        int c1 = ch == 0xc2 && i + 1 < len &&
                 (unsigned char)s[i + 1] >= 0x80 &&
                 (unsigned char)s[i + 1] <= 0x9f;

        if (!c1 && !(ch < 0x20 && ch != '\t') && ch != 0x7f)
            continue;
        fwrite(s + start, 1, i - start, stdout);
        fputc('?', stdout);
        i += (size_t)c1;
        start = i + 1;
    }
    fwrite(s + start, 1, len - start, stdout);
}

void cli_show_server_line(struct cli *c, const char *line, size_t len)
{
    struct above a;
    size_t name_len = 0;
    enum cli_kind k = cli_classify(line, len, c->sess.name, &name_len);

    above_begin(c, &a);
    if (c->color) {
        fputs(kind_sgr[k], stdout);
        if (k == CLI_KIND_OTHER) {
            put_text(line, name_len, 1);
            fputs(SGR_RESET, stdout);
            line += name_len;
            len -= name_len;
        }
    }
    put_text(line, len, c->tty_out);
    if (c->color && k != CLI_KIND_OTHER)
        fputs(SGR_RESET, stdout);
    fputc('\n', stdout);
    above_end(c, &a);
}

void cli_notice(struct cli *c, const char *fmt, ...)
{
    struct above a;
    char msg[640];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!c->rl_installed) {
        fflush(stdout); /* keep the order of what was already said */
        fprintf(stderr, "chat-cli: %s\n", msg);
        return;
    }
    above_begin(c, &a);
    fprintf(stdout, "%s-- %s%s\n", c->color ? SGR_NOTE : "", msg,
            c->color ? SGR_RESET : "");
    above_end(c, &a);
}
