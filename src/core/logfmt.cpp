#include "core/logfmt.hpp"

#include <fmt/format.h>

namespace gslb::core {

namespace {

bool needs_quotes(std::string_view v) {
  if (v.empty()) return true;
  for (unsigned char ch : v)
    if (ch <= ' ' || ch == '"' || ch == '=' || ch == 0x7f) return true;
  return false;
}

}  // namespace

void append_logfmt(std::string& out, std::string_view key, std::string_view value, bool quote) {
  if (!out.empty()) out += ' ';
  out += key;
  out += '=';
  if (!quote && !needs_quotes(value)) {
    out += value;
    return;
  }
  out += '"';
  for (unsigned char ch : value) {
    switch (ch) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (ch < ' ' || ch == 0x7f) out += fmt::format("\\u{:04x}", ch);
        else out += char(ch);
    }
  }
  out += '"';
}

std::string logfmt(const std::vector<Field>& fields) {
  std::string out;
  for (const auto& f : fields) append_logfmt(out, f.key, f.value, f.quote);
  return out;
}

}  // namespace gslb::core
