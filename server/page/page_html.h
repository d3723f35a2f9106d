/*
 * chatd - the chat page (index.html beside this header), embedded at build
 * time: server/page/meson.build runs tools/embed.py, which writes
 * page_html.c with these two definitions. chatd serves it at GET /.
 */
#ifndef CHATD_PAGE_HTML_H
#define CHATD_PAGE_HTML_H

#include <stddef.h>

/* The bytes of index.html (UTF-8, text/html), then a NUL. */
extern const unsigned char chatd_page_html[];
/* Their count, not counting the NUL. */
extern const size_t chatd_page_html_len;

#endif /* CHATD_PAGE_HTML_H */
