// gslb::route: locality-aware routing, outlier detection, circuit breaking, retries and local
// rate limiting for an application that calls other services without a sidecar.
#pragma once

#include "gslb/route/circuit_breaker.hpp"
#include "gslb/route/cluster.hpp"
#include "gslb/route/config.hpp"
#include "gslb/route/rate_limit.hpp"
#include "gslb/route/retry.hpp"
#include "gslb/route/types.hpp"
