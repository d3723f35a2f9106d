/*
 * The page chatd embeds (page_html.c, written by tools/embed.py at build
 * time) is server/page/index.html byte for byte, followed by a NUL.
 * usage: embed_check INDEX_HTML
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "page_html.h"

int main(int argc, char **argv)
{
    static unsigned char file[1 << 20];
    FILE *f;
    size_t n;

    if (argc != 2) {
        fprintf(stderr, "usage: embed_check INDEX_HTML\n");
        return 2;
    }
    f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    n = fread(file, 1, sizeof file, f);
    if (ferror(f) || !feof(f)) {
        fprintf(stderr, "%s: cannot read it whole\n", argv[1]);
        fclose(f);
        return 1;
    }
    fclose(f);
    if (n != chatd_page_html_len) {
        fprintf(stderr, "embedded %zu bytes, %s has %zu\n",
                chatd_page_html_len, argv[1], n);
        return 1;
    }
    if (memcmp(file, chatd_page_html, n) != 0) {
        fprintf(stderr, "the embedded page differs from %s\n", argv[1]);
        return 1;
    }
    if (chatd_page_html[n] != '\0') {
        fprintf(stderr, "the embedded page is not NUL-terminated\n");
        return 1;
    }
    printf("ok: %zu bytes embedded\n", n);
    return 0;
}
