#pragma once

#include <cstdio>
#include <cstdlib>

// ASB_CHECK(cond): a broken invariant. Fatal in every build (Envoy RELEASE_ASSERT).
#define ASB_CHECK(cond)                                                             \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                 \
    }                                                                               \
  } while (false)
