/* Bearer-key decisions and the constant-time comparison. */
#include <criterion/criterion.h>

#include <string.h>

#include "srv_auth.h"

Test(auth, ct_equal) {
  cr_assert(srv_ct_equal("k3y-0ne", 7, "k3y-0ne", 7));
  cr_assert_not(srv_ct_equal("k3y-0ne", 7, "k3y-0nf", 7));
  cr_assert_not(srv_ct_equal("k3y-0ne", 7, "k3y-0n", 6), "prefix");
  cr_assert_not(srv_ct_equal("k3y", 3, "k3y-0ne", 7), "longer");
  cr_assert_not(srv_ct_equal("\x00\x00", 2, "", 0), "padding is not equal");
  cr_assert(srv_ct_equal("", 0, "", 0));
  cr_assert_not(srv_ct_equal("A", 1, "a", 1));
}

static char *keys[] = {"k3y-0ne", "Second.Key_2"};

Test(auth, no_keys_accepts_everything) {
  srv_auth *a = srv_auth_new(NULL, 0);
  cr_assert_not_null(a);
  cr_assert_not(srv_auth_enabled(a));
  cr_assert_eq(srv_auth_check(a, NULL), SRV_AUTH_OK);
  cr_assert_eq(srv_auth_check(a, "garbage"), SRV_AUTH_OK);
  srv_auth_free(a);
  srv_auth_free(NULL);
}

Test(auth, missing) {
  srv_auth *a = srv_auth_new(keys, 2);
  cr_assert(srv_auth_enabled(a));
  cr_assert_eq(srv_auth_check(a, NULL), SRV_AUTH_MISSING);
  srv_auth_free(a);
}

Test(auth, malformed) {
  srv_auth *a = srv_auth_new(keys, 2);
  static const char *const bad[] = {"",
                                    "k3y-0ne",
                                    "Basic azN5LTBuZQ==",
                                    "Bearer",
                                    "Bearer ",
                                    "Bearer    ",
                                    "Bearerk3y-0ne",
                                    "Bearer\tk3y-0ne",
                                    "Bearer k3y 0ne",
                                    "Bearer k3y-\x01ne",
                                    "Bearer k3y-\xc3\xa9"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    cr_expect_eq(srv_auth_check(a, bad[i]), SRV_AUTH_MALFORMED, "'%s'", bad[i]);
  srv_auth_free(a);
}

Test(auth, wrong) {
  srv_auth *a = srv_auth_new(keys, 2);
  static const char *const wrong[] = {"Bearer k3y-0nE", "Bearer k3y-0n",
                                      "Bearer k3y-0ne2", "Bearer Second",
                                      "Bearer second.key_2"};
  for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++)
    cr_expect_eq(srv_auth_check(a, wrong[i]), SRV_AUTH_WRONG, "'%s'", wrong[i]);
  srv_auth_free(a);
}

Test(auth, right) {
  srv_auth *a = srv_auth_new(keys, 2);
  cr_assert_eq(srv_auth_check(a, "Bearer k3y-0ne"), SRV_AUTH_OK);
  cr_assert_eq(srv_auth_check(a, "Bearer Second.Key_2"), SRV_AUTH_OK);
  cr_assert_eq(srv_auth_check(a, "bearer k3y-0ne"), SRV_AUTH_OK,
               "the scheme is case-insensitive");
  cr_assert_eq(srv_auth_check(a, "BEARER   Second.Key_2  "), SRV_AUTH_OK);
  srv_auth_free(a);
}
