/* The shared room fixture: see fixture.h. */
#include "fixture.h"

h_harness *h;
h_peer *alice, *bob, *carol;

void h_setup(void)
{
    h = h_new();
    alice = bob = carol = NULL;
}

void h_join_abc(int n)
{
    h_peer **peer[] = {&alice, &bob, &carol};
    static const char *const names[] = {"alice", "bob", "carol"};

    ck_assert_int_ge(n, 1);
    ck_assert_int_le(n, 3);
    for (int i = 0; i < n; i++)
        *peer[i] = h_join_as(h, names[i]);
}

void h_setup_ab(void)
{
    h_setup();
    h_join_abc(2);
}

void h_setup_abc(void)
{
    h_setup();
    h_join_abc(3);
}

void h_carol_aside(void)
{
    h_send(carol, "/join side\n");
    ck_assert_str_eq(h_room(carol), "side");
    h_clear_all(h);
}

void h_teardown(void)
{
    h_free(h);
    h = NULL;
    alice = bob = carol = NULL;
}

TCase *h_tcase(Suite *s, const char *name, void (*setup)(void))
{
    TCase *tc = tcase_create(name);

    tcase_add_checked_fixture(tc, setup, h_teardown);
    suite_add_tcase(s, tc);
    return tc;
}
