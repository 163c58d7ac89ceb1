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

std::vector<Field> parse_logfmt(std::string_view line, std::string* rest) {
  std::vector<Field> out;
  size_t i = 0;
  auto skip_spaces = [&] { while (i < line.size() && line[i] == ' ') ++i; };
  for (skip_spaces(); i < line.size(); skip_spaces()) {
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '=' && line[i] != '"') ++i;
    if (i == start || i >= line.size() || line[i] != '=') {
      // Not a pair: the rest of the line is a remark.
      if (rest) *rest = std::string(line.substr(start));
      break;
    }
    Field f{std::string(line.substr(start, i - start)), {}, false};
    ++i;  // '='
    if (i < line.size() && line[i] == '"') {
      f.quote = true;
      for (++i; i < line.size() && line[i] != '"'; ++i) {
        if (line[i] != '\\' || i + 1 >= line.size()) {
          f.value += line[i];
          continue;
        }
        const char e = line[++i];
        if (e == 'n') f.value += '\n';
        else if (e == 'r') f.value += '\r';
        else if (e == 't') f.value += '\t';
        else if (e == 'u' && i + 4 < line.size()) {
          f.value += char(std::stoi(std::string(line.substr(i + 1, 4)), nullptr, 16));
          i += 4;
        } else f.value += e;
      }
      ++i;  // closing quote
    } else {
      while (i < line.size() && line[i] != ' ') f.value += line[i++];
    }
    out.push_back(std::move(f));
  }
  return out;
}

std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char ch : s) {
    if (ch == '"') out += "\\\"";
    else if (ch == '\\') out += "\\\\";
    else if (ch < ' ' || ch == 0x7f) out += fmt::format("\\u{:04x}", ch);
    else out += char(ch);
  }
  return out + '"';
}

std::string fields_json(const std::vector<std::pair<std::string, std::string>>& extra,
                        const std::vector<Field>& fields) {
  auto number = [](std::string_view v) {
    if (v.empty() || v.size() > 15 || (v.size() > 1 && v[0] == '0')) return false;
    for (char ch : v)
      if (ch < '0' || ch > '9') return false;
    return true;
  };
  std::string out = "{";
  for (const auto& [k, v] : extra) out += (out.size() > 1 ? "," : "") + json_quote(k) + ":" + v;
  for (const auto& f : fields)
    out += (out.size() > 1 ? "," : "") + json_quote(f.key) + ":" +
           (number(f.value) && !f.quote ? f.value : json_quote(f.value));
  return out + "}";
}

}  // namespace gslb::core
