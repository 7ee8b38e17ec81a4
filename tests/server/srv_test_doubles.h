/* Stand-ins for the api/ handlers the route table names, for test programs
 * only. They are weak: once api/ provides the real handlers in the linked
 * library, those win and these vanish. The tests that include this file
 * never depend on a handler's answer, only on what server/ decides before
 * calling it. */
#ifndef GRAVITAS_SRV_TEST_DOUBLES_H
#define GRAVITAS_SRV_TEST_DOUBLES_H

#include "api.h"

__attribute__((weak)) void api_get_info(const api_request *req,
                                        api_response *res) {
  (void)req;
  api_response_json(res, 200, json_pack("{s:s}", "double", "info"));
}

__attribute__((weak)) void api_post_models(const api_request *req,
                                           api_response *res) {
  api_response_json(res, 200,
                    json_pack("{s:s, s:I}", "double", "models", "body_len",
                              (json_int_t)req->body_len));
}

__attribute__((weak)) void api_post_pca(const api_request *req,
                                        api_response *res) {
  api_response_json(res, 200,
                    json_pack("{s:s, s:I}", "double", "pca", "body_len",
                              (json_int_t)req->body_len));
}

#endif
