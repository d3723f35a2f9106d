/*
 * The room most unit suites start from, kept here instead of copied into
 * each suite: a broker h with doc/protocol.md defaults, and alice, bob and
 * carol joined by name in that order, every buffer clear (h_join_as).
 *
 * The setups are Check fixtures, with h_teardown (h_tcase pairs them). A
 * suite that needs options sets them between h_setup() and h_join_abc().
 *
 * A header apart from harness.h because these are globals, named like the
 * locals of the suites that build brokers of their own: only the suites
 * that use the room include it.
 */
#ifndef CHAT_TEST_FIXTURE_H
#define CHAT_TEST_FIXTURE_H

#include "harness.h"

extern h_harness *h;
extern h_peer *alice, *bob, *carol; /* NULL until joined */

/* h, with no one in it yet. */
void h_setup(void);
/* h with alice and bob. */
void h_setup_ab(void);
/* h with alice, bob and carol. */
void h_setup_abc(void);
/* Free h and every peer; safe when h is NULL. */
void h_teardown(void);

/* Join the first n (1 to 3) of alice, bob and carol into h. */
void h_join_abc(int n);

/* Send carol to room "side" and clear every buffer: two rooms to tell
 * apart, alice and bob in main. */
void h_carol_aside(void);

/* A new test case of s named name, with setup (may be NULL) and
 * h_teardown as its checked fixture. */
TCase *h_tcase(Suite *s, const char *name, void (*setup)(void));

#endif /* CHAT_TEST_FIXTURE_H */
