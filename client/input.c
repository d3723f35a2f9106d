/*
 * chat-cli: standard input. In a terminal, GNU readline's callback
 * interface, fed one character at a time from a libevent read event, so
 * that server lines keep arriving while the user types. From a pipe or a
 * file, lines split by libchat's framer and sent as they come, read only
 * while the session is ready and the socket keeps up.
 */
#ifndef _XOPEN_SOURCE
#define _XOPEN_SOURCE 700 /* wcwidth; readline.pc may already ask for 600 */
#endif

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wchar.h>

#include <event2/event.h>
#include <readline/history.h>
#include <readline/readline.h>

#include "cli.h"

/* Longer input lines are not sent (and said so); shorter ones past 400
 * bytes are, so that the server can say its own word about them. */
#define TX_MAX_LINE 8192
#define PROMPT_MAX (2 * CHAT_NAME_MAX + 24)

/* readline's line handler takes no context pointer: this is its context. */
static struct cli *rl_cli;
static char prompt[PROMPT_MAX];

/* ---- pipe or file ------------------------------------------------------ */

static int on_input_frame(void *arg, chat_frame_event ev, const char *line,
                          size_t len)
{
    struct cli *c = arg;

    if (ev == CHAT_FRAME_LINE)
        cli_conn_send_user(c, line, len);
    else if (ev == CHAT_FRAME_TOO_LONG)
        cli_notice(c, "an input line over %d bytes was not sent", TX_MAX_LINE);
    else if (ev == CHAT_FRAME_NOMEM)
        cli_notice(c, "out of memory: an input line was not sent");
    /* After /quit nothing more is sent: the server is closing. */
    return c->quitting || c->exiting;
}

static void pipe_done(struct cli *c)
{
    if (!c->quitting)
        chat_framer_finish(c->tx, on_input_frame, c); /* a last unended line */
    c->stdin_eof = 1;
    cli_input_update(c);
    cli_conn_input_done(c);
}

static void on_pipe(evutil_socket_t fd, short what, void *arg)
{
    struct cli *c = arg;
    char buf[16384];
    ssize_t n;

    (void)fd;
    (void)what;
    if (c->stdin_poll)
        c->stdin_active = 0; /* an activated event runs once */
    n = read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) {
        cli_input_update(c);
        return;
    }
    if (n < 0)
        cli_notice(c, "reading standard input: %s", strerror(errno));
    if (n <= 0) {
        pipe_done(c);
        return;
    }
    chat_framer_feed(c->tx, buf, (size_t)n, on_input_frame, c);
    cli_input_update(c);
}

/*
 * epoll refuses regular files and /dev/null, which are always readable
 * anyway: for those, reading is driven by activating the event by hand.
 */
static int start_pipe(struct cli *c)
{
    struct stat st;

    if (fstat(STDIN_FILENO, &st) < 0) {
        c->stdin_eof = 1; /* no stdin at all: an empty script */
        cli_conn_input_done(c);
        return 0;
    }
    c->stdin_poll = !S_ISFIFO(st.st_mode) && !S_ISSOCK(st.st_mode);
    c->stdin_ev = c->stdin_poll
                      ? event_new(c->base, -1, 0, on_pipe, c)
                      : event_new(c->base, STDIN_FILENO, EV_READ | EV_PERSIST,
                                  on_pipe, c);
    if (!c->stdin_ev || chat_framer_new(&c->tx, TX_MAX_LINE, 0, NULL) < 0) {
        cli_notice(c, "out of memory");
        cli_exit(c, 1);
        return -1;
    }
    cli_input_update(c);
    return 0;
}

void cli_input_update(struct cli *c)
{
    int want;

    if (c->interactive || !c->stdin_ev)
        return;
    want = !c->stdin_eof && !c->quitting && !c->exiting &&
           c->state == CLI_READY && !cli_conn_output_full(c);
    if (want == c->stdin_active)
        return;
    if (!want)
        event_del(c->stdin_ev);
    else if (c->stdin_poll)
        event_active(c->stdin_ev, EV_READ, 0);
    else
        event_add(c->stdin_ev, NULL);
    c->stdin_active = want;
}

/* ---- terminal ---------------------------------------------------------- */

/* Columns that s takes on screen, or -1 if unsure (control chars, bad bytes). */
static int text_width(const char *s)
{
    mbstate_t st;
    size_t left = strlen(s);
    int w = 0;

    memset(&st, 0, sizeof st);
    while (left > 0) {
        wchar_t wc;
        size_t n = mbrtowc(&wc, s, left, &st);
        int cw;

        if (n == (size_t)-1 || n == (size_t)-2 || n == 0)
            return -1;
        cw = wcwidth(wc);
        if (cw < 0)
            return -1;
        w += cw;
        s += n;
        left -= n;
    }
    return w;
}

/*
 * Wipe the just-entered line from the screen: the server echoes every chat
 * line and answers every command, so the echo would show it twice. Only
 * when its rows are certain; otherwise leaving it is the safe mistake.
 */
static void erase_echo(const char *line)
{
    const char *term = getenv("TERM");
    int rows, cols, w = text_width(line), total;

    rl_get_screen_size(&rows, &cols);
    if (!rl_cli->tty_out || !term || strcmp(term, "dumb") == 0 || w < 0 ||
        cols <= 0)
        return;
    total = (int)strlen(prompt) + w;
    if (total % cols == 0)
        return; /* the cursor may or may not have wrapped */
    for (rows = total / cols + 1; rows > 0; rows--)
        fputs("\033[A\033[2K", stdout);
    fputc('\r', stdout);
}

/* Send a typed line; a paste may hold several lines. */
static void send_typed(struct cli *c, const char *s)
{
    while (*s) {
        size_t n = strcspn(s, "\r\n");

        if (n > 0)
            cli_conn_send_user(c, s, n);
        s += n;
        if (*s)
            s++;
    }
}

static void remember(const char *line)
{
    HIST_ENTRY *last = history_get(history_base + history_length - 1);

    if (!last || strcmp(last->line, line) != 0)
        add_history(line);
}

static void on_line(char *line)
{
    struct cli *c = rl_cli;

    c->at_line_start = 1; /* readline moved down after Enter or Ctrl-D */
    if (!line) {          /* Ctrl-D on an empty line */
        cli_conn_leave(c);
        return;
    }
    if (*line) {
        erase_echo(line);
        remember(line);
        send_typed(c, line);
    }
    free(line);
    /* Still installed, readline draws a fresh prompt once we return. */
    if (c->rl_installed)
        c->at_line_start = 0;
}

static void on_tty(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    rl_callback_read_char();
}

static const char *const commands[] = {
    "/help", "/join ", "/me ", "/msg ", "/name ", "/nick ", "/quit",
    "/rooms", "/users", NULL,
};

static char *next_command(const char *text, int state)
{
    static size_t i;
    size_t n = strlen(text);

    if (state == 0)
        i = 0;
    while (commands[i]) {
        const char *cmd = commands[i++];

        if (strncasecmp(cmd, text, n) == 0)
            return strdup(cmd); /* NULL on failure: readline stops there */
    }
    return NULL;
}

/* Tab completes command words; never file names, which mean nothing here. */
static char **complete(const char *text, int start, int end)
{
    (void)end;
    rl_attempted_completion_over = 1;
    if (start != 0 || text[0] != '/')
        return NULL;
    rl_completion_append_character = '\0';
    return rl_completion_matches(text, next_command);
}

static int start_readline(struct cli *c)
{
    rl_cli = c;
    /* libevent owns the signals; readline must not install handlers. */
    rl_catch_signals = 0;
    rl_catch_sigwinch = 0;
    rl_readline_name = "chat-cli";
    rl_attempted_completion_function = complete;
    rl_basic_word_break_characters = " ";
    c->stdin_ev = event_new(c->base, STDIN_FILENO, EV_READ | EV_PERSIST,
                            on_tty, c);
    if (!c->stdin_ev || event_add(c->stdin_ev, NULL) < 0) {
        cli_notice(c, "cannot watch the terminal");
        cli_exit(c, 1);
        return -1;
    }
    cli_input_prompt(c);
    rl_callback_handler_install(prompt, on_line);
    c->rl_installed = 1;
    return 0;
}

int cli_input_start(struct cli *c)
{
    return c->interactive ? start_readline(c) : start_pipe(c);
}

/* "name@room> ", or what of it is known; "(offline) " while reconnecting. */
void cli_input_prompt(struct cli *c)
{
    const char *n = c->sess.name, *r = c->sess.room;

    if (!c->interactive)
        return;
    snprintf(prompt, sizeof prompt, "%s%s%s%s> ",
             c->state == CLI_DOWN ? "(offline) " : "", n, *r ? "@" : "", r);
    if (c->rl_installed)
        rl_set_prompt(prompt); /* shown by the next redisplay */
}

void cli_input_resize(struct cli *c)
{
    if (c->rl_installed)
        rl_resize_terminal();
}

/*
 * Ctrl-Z. readline's own handler is off (libevent owns the signals), so do
 * what it would: give the shell a sane terminal, stop, and on resuming take
 * the terminal back and redraw the prompt with the typed text.
 */
void cli_input_suspend(struct cli *c)
{
    if (c->rl_installed)
        rl_deprep_terminal();
    kill(getpid(), SIGSTOP); /* returns once we are continued */
    if (c->rl_installed) {
        rl_prep_terminal(1);
        rl_forced_update_display();
    }
}

void cli_input_stop(struct cli *c)
{
    if (c->stdin_ev)
        event_del(c->stdin_ev);
    c->stdin_active = 0;
    if (c->rl_installed) {
        c->rl_installed = 0;
        rl_callback_handler_remove(); /* gives the terminal its modes back */
        if (!c->at_line_start)
            fputc('\n', stdout); /* leave the prompt line behind */
        fflush(stdout);
    }
}

void cli_input_free(struct cli *c)
{
    if (c->stdin_ev)
        event_free(c->stdin_ev);
    c->stdin_ev = NULL;
    chat_framer_free(c->tx);
    c->tx = NULL;
}
