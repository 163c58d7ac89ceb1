// What the HTTP and TCP runners share: a check's completion callback, its id and the reasons
// for socket errors, so both runners word the same failure the same way.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "probe/spec.hpp"

namespace gslb::probe {

// Runs once on the loop with the verdict of a check that was not cancelled. Must not throw:
// it is called from inside libuv callbacks.
using Done = std::function<void(const Result&)>;

// Names one in-flight check of a runner; 0 is never used.
using CheckId = uint64_t;

// "connect refused", "connection reset", "host unreachable", ...; `uv_error` is a libuv error
// code (a negated errno on Unix).
std::string socket_reason(int uv_error);
// True for the errors that say gslbd itself is short of something (EMFILE, ENFILE, ENOBUFS,
// ENOMEM), not that the target misbehaved; `uv_error` as above.
bool local_error(int uv_error);
// The failed Result for a socket error: local (see Result) or a verdict on the target.
Result socket_failure(int uv_error);
// "timeout after 500ms".
std::string timeout_reason(core::Duration timeout);

}  // namespace gslb::probe
