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

// Reads back a line append_logfmt wrote: `key=value` pairs (quoted values unescaped). Words
// that are not pairs (an event's closing remark in parentheses) go, joined, to `rest`.
std::vector<Field> parse_logfmt(std::string_view line, std::string* rest = nullptr);

// A JSON string literal of `s` (quotes included), for the JSON lines gslbctl prints.
std::string json_quote(std::string_view s);

// One JSON object of `fields` in order, a value of digits only (no leading zero, at most 15)
// as a number and every other as a string; `extra` pairs (already JSON) come first.
std::string fields_json(const std::vector<std::pair<std::string, std::string>>& extra,
                        const std::vector<Field>& fields);

}  // namespace gslb::core
