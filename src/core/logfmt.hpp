// Event lines in logfmt: `event=failover name=www.example.test. reason="pool hangzhou down"`.
// A value is quoted when it is empty or holds a space, `"`, `=` or a control character (or when
// its field asks to be, as reasons always are), with `"`, `\` and control characters escaped, so
// any logfmt parser reads back exactly the value that was written.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace gslb::core {

struct Field {
  std::string key;
  std::string value;
  bool quote = false;  // quote even when the value would not need it
};

// Appends ` key=value` (no leading space when `out` is empty).
void append_logfmt(std::string& out, std::string_view key, std::string_view value, bool quote);
std::string logfmt(const std::vector<Field>& fields);

}  // namespace gslb::core
