/* CORS origin decisions (see srv_cors.h). */
#include "srv_cors.h"

#include <string.h>

bool srv_cors_allowed(const srv_cors *c, const char *origin) {
  if (c == NULL || origin == NULL || origin[0] == '\0') return false;
  if (c->any) return true;
  for (size_t i = 0; i < c->n_origins; i++)
    if (strcmp(c->origins[i], origin) == 0) return true;
  return false;
}

bool srv_cors_enabled(const srv_cors *c) {
  return c != NULL && (c->any || c->n_origins > 0);
}
