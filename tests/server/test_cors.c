/* CORS decisions: which Origin values are echoed. */
#include <criterion/criterion.h>

#include "srv_cors.h"

static char *origins[] = {"https://app.example.org", "http://localhost:5173"};

Test(cors, listed_origins_only) {
  srv_cors c = {.any = false, .origins = origins, .n_origins = 2};
  cr_assert(srv_cors_allowed(&c, "https://app.example.org"));
  cr_assert(srv_cors_allowed(&c, "http://localhost:5173"));
  cr_assert_not(srv_cors_allowed(&c, "http://app.example.org"), "scheme");
  cr_assert_not(srv_cors_allowed(&c, "https://app.example.org:443"), "port");
  cr_assert_not(srv_cors_allowed(&c, "https://app.example.org.evil.test"));
  cr_assert_not(srv_cors_allowed(&c, "https://APP.example.org"));
  cr_assert_not(srv_cors_allowed(&c, "http://localhost:5174"));
  cr_assert_not(srv_cors_allowed(&c, "null"));
  cr_assert_not(srv_cors_allowed(&c, ""));
  cr_assert_not(srv_cors_allowed(&c, NULL));
  cr_assert(srv_cors_enabled(&c));
}

Test(cors, star_allows_any_origin_but_not_none) {
  srv_cors c = {.any = true};
  cr_assert(srv_cors_allowed(&c, "https://anything.example"));
  cr_assert_not(srv_cors_allowed(&c, NULL));
  cr_assert_not(srv_cors_allowed(&c, ""));
  cr_assert(srv_cors_enabled(&c));
}

Test(cors, nothing_configured_allows_nothing) {
  srv_cors c = {0};
  cr_assert_not(srv_cors_allowed(&c, "https://app.example.org"));
  cr_assert_not(srv_cors_allowed(NULL, "https://app.example.org"));
  /* No CORS: no "Vary: Origin" either, the answer is the same for all. */
  cr_assert_not(srv_cors_enabled(&c));
  cr_assert_not(srv_cors_enabled(NULL));
}
