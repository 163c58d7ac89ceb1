#include "probe/spec.hpp"

namespace gslb::probe {

core::Duration effective_fast_interval(const Spec& spec) {
  return spec.fast_interval.count() > 0 ? spec.fast_interval : spec.interval / 4;
}

bool status_expected(const Spec& spec, long status) {
  for (const StatusRange& r : spec.expect_status)
    if (status >= r.lo && status <= r.hi) return true;
  return false;
}

std::string_view to_string(Type type) {
  switch (type) {
    case Type::http: return "http";
    case Type::https: return "https";
    case Type::tcp: return "tcp";
  }
  return "?";
}

std::string_view to_string(Method method) {
  return method == Method::head ? "HEAD" : "GET";
}

}  // namespace gslb::probe
