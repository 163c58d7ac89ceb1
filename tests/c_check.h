/* CHECK for the C API tests: reports a failed condition and counts it in `failures`; the test
 * exits non-zero when any failed. */
#ifndef GSLB_TESTS_C_CHECK_H
#define GSLB_TESTS_C_CHECK_H

#include <stdio.h>

static int failures;

#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                     \
    }                                                                 \
  } while (0)

#endif
