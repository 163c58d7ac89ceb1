#include "core/result.hpp"

#include <fmt/format.h>

namespace gslb::core {

std::string Error::to_string() const {
  std::string out;
  if (!file.empty()) {
    out = file;
    if (line > 0) {
      out += fmt::format(":{}", line);
      if (col > 0) out += fmt::format(":{}", col);
    }
    out += ": ";
  }
  out += message;
  return out;
}

}  // namespace gslb::core
