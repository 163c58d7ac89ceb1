#include "probe/runner.hpp"

#include <fmt/format.h>
#include <uv.h>

namespace gslb::probe {

std::string socket_reason(int uv_error) {
  switch (uv_error) {
    case UV_ECONNREFUSED: return "connect refused";
    case UV_ECONNRESET:
    case UV_EPIPE: return "connection reset";
    case UV_ENETUNREACH: return "network unreachable";
    case UV_EHOSTUNREACH: return "host unreachable";
    case UV_EADDRNOTAVAIL: return "address not available";
    case UV_ETIMEDOUT: return "connect timed out";
    default: return fmt::format("connect failed: {}", uv_strerror(uv_error));
  }
}

bool local_error(int uv_error) {
  return uv_error == UV_EMFILE || uv_error == UV_ENFILE || uv_error == UV_ENOBUFS ||
         uv_error == UV_ENOMEM;
}

Result socket_failure(int uv_error) {
  if (local_error(uv_error)) return Result{false, uv_strerror(uv_error), {}, true};
  return Result{false, socket_reason(uv_error), {}};
}

std::string timeout_reason(core::Duration timeout) {
  return fmt::format("timeout after {}", core::format_duration(timeout));
}

}  // namespace gslb::probe
