#include "dns/master_text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>

namespace gslb::dns::master {

namespace {

bool blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

char lower(char c) { return char(std::tolower(static_cast<unsigned char>(c))); }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = lower(c);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

bool EntryReader::next(Entry& out, std::string& error) {
  out.tokens.clear();
  error.clear();
  while (at_ < text_.size()) {
    out.line = line_;
    out.blank_owner = blank(text_[at_]);
    int depth = 0;
    int depth_line = 0;
    std::string token;
    bool in_token = false;
    auto end_token = [&] {
      if (in_token) out.tokens.push_back(std::move(token));
      token.clear();
      in_token = false;
    };
    bool done = false;
    while (!done && at_ < text_.size()) {
      const char c = text_[at_];
      if (c == '\n') {
        ++line_;
        ++at_;
        end_token();
        if (depth == 0) done = true;
      } else if (blank(c)) {
        ++at_;
        end_token();
      } else if (c == ';') {
        end_token();
        while (at_ < text_.size() && text_[at_] != '\n') ++at_;
      } else if (c == '(') {
        end_token();
        if (depth++ == 0) depth_line = line_;
        ++at_;
      } else if (c == ')') {
        end_token();
        if (depth == 0) {
          error = "')' without '('";
          while (at_ < text_.size() && text_[at_] != '\n') ++at_;
        } else {
          --depth;
        }
        ++at_;
      } else if (c == '"') {
        // One token up to the closing quote; an escaped quote does not close it.
        const int opened = line_;
        token += c;
        in_token = true;
        ++at_;
        bool closed = false;
        while (at_ < text_.size()) {
          const char q = text_[at_++];
          if (q == '\n') ++line_;
          token += q;
          if (q == '\\' && at_ < text_.size()) {
            if (text_[at_] == '\n') ++line_;
            token += text_[at_++];
          } else if (q == '"') {
            closed = true;
            break;
          }
        }
        if (!closed) {
          error = fmt::format("quoted text opened on line {} is not closed", opened);
          return true;
        }
      } else if (c == '\\') {
        token += c;
        in_token = true;
        ++at_;
        if (at_ < text_.size() && text_[at_] != '\n') token += text_[at_++];
      } else {
        token += c;
        in_token = true;
        ++at_;
      }
    }
    end_token();
    if (depth > 0) {
      error = fmt::format("'(' opened on line {} is not closed", depth_line);
      return true;
    }
    if (!error.empty() || !out.tokens.empty()) return true;
  }
  return false;
}

std::optional<uint32_t> parse_ttl(std::string_view t) {
  if (t.empty() || !std::isdigit(static_cast<unsigned char>(t[0]))) return std::nullopt;
  uint64_t total = 0, n = 0;
  bool digits = false, units = false;
  for (char c : t) {
    if (std::isdigit(static_cast<unsigned char>(c))) {
      n = n * 10 + uint64_t(c - '0');
      digits = true;
      if (n > 0xffffffffull) return std::nullopt;
      continue;
    }
    if (!digits) return std::nullopt;
    uint64_t unit = 0;
    switch (lower(c)) {
      case 'w': unit = 604800; break;
      case 'd': unit = 86400; break;
      case 'h': unit = 3600; break;
      case 'm': unit = 60; break;
      case 's': unit = 1; break;
      default: return std::nullopt;
    }
    total += n * unit;
    n = 0;
    digits = false;
    units = true;
    if (total > 0xffffffffull) return std::nullopt;
  }
  // Once units are used every number has one: BIND reads "1h30" as no TTL at all.
  if (units && digits) return std::nullopt;
  total += n;
  if (total > 0xffffffffull) return std::nullopt;
  return uint32_t(total);
}

std::optional<uint16_t> parse_class(std::string_view t) {
  if (iequals(t, "IN")) return 1;
  if (iequals(t, "CS")) return 2;
  if (iequals(t, "CH")) return 3;
  if (iequals(t, "HS")) return 4;
  if (t.size() > 5 && iequals(t.substr(0, 5), "CLASS")) {
    unsigned v = 0;
    auto num = t.substr(5);
    auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), v);
    if (ec == std::errc() && p == num.data() + num.size() && v <= 65535) return uint16_t(v);
  }
  return std::nullopt;
}

std::string unquote(std::string_view t) {
  if (t.size() >= 2 && t.front() == '"' && t.back() == '"') return std::string(t.substr(1, t.size() - 2));
  return std::string(t);
}

core::Result<std::string> parse_generic_rdata(const std::vector<std::string>& tokens, size_t from) {
  if (from >= tokens.size())
    return core::Error{"", 0, 0, "\\# needs the RDATA length (RFC 3597 5)"};
  const std::string& len_text = tokens[from];
  unsigned len = 0;
  auto [p, ec] = std::from_chars(len_text.data(), len_text.data() + len_text.size(), len);
  if (ec != std::errc() || p != len_text.data() + len_text.size() || len > 65535)
    return core::Error{"", 0, 0, fmt::format("\\# length {} is not a number of bytes from 0 to 65535",
                                             len_text)};
  std::string out;
  out.reserve(len);
  int high = -1;
  for (size_t i = from + 1; i < tokens.size(); ++i) {
    for (char c : tokens[i]) {
      const int v = hex_value(c);
      if (v < 0)
        return core::Error{"", 0, 0, fmt::format("\\# data {}: '{}' is not a hex digit", tokens[i], c)};
      if (high < 0) {
        high = v;
      } else {
        out += char(high << 4 | v);
        high = -1;
      }
    }
  }
  if (high >= 0) return core::Error{"", 0, 0, "\\# data has an odd number of hex digits"};
  if (out.size() != len)
    return core::Error{"", 0, 0, fmt::format("\\# says {} bytes, the data has {}", len, out.size())};
  return out;
}

core::Result<GenerateRange> parse_generate_range(std::string_view text) {
  GenerateRange r;
  auto bad = [&] {
    return core::Error{"", 0, 0, fmt::format("$GENERATE range {}: expected start-stop[/step] with "
                                             "start <= stop and step >= 1", text)};
  };
  const char* p = text.data();
  const char* end = text.data() + text.size();
  auto num = [&](uint32_t& v) {
    auto [q, ec] = std::from_chars(p, end, v);
    if (ec != std::errc()) return false;
    p = q;
    return true;
  };
  if (!num(r.start) || p == end || *p++ != '-' || !num(r.stop)) return bad();
  if (p != end && (*p++ != '/' || !num(r.step))) return bad();
  if (p != end || r.start > r.stop || r.step == 0) return bad();
  return r;
}

core::Result<std::string> generate_substitute(std::string_view tmpl, int64_t i) {
  std::string out;
  // A plain `$` adds the offset of the last ${...} before it, as BIND does ("a${1}-$" of 5 is
  // "a6-6"); width and base are the modifier's own.
  int64_t last_offset = 0;
  for (size_t k = 0; k < tmpl.size();) {
    const char c = tmpl[k];
    if (c == '\\') {
      out += tmpl.substr(k, 2);
      k += 2;
      continue;
    }
    if (c != '$') {
      out += c;
      ++k;
      continue;
    }
    if (k + 1 < tmpl.size() && tmpl[k + 1] == '$') {
      out += '$';
      k += 2;
      continue;
    }
    int64_t offset = last_offset;
    unsigned width = 0;
    char base = 'd';
    ++k;
    if (k < tmpl.size() && tmpl[k] == '{') {
      const size_t close = tmpl.find('}', k);
      if (close == std::string_view::npos)
        return core::Error{"", 0, 0, fmt::format("$GENERATE {}: '${{' without '}}'", tmpl)};
      const std::string_view mods = tmpl.substr(k + 1, close - k - 1);
      auto bad = [&] {
        return core::Error{"", 0, 0, fmt::format("$GENERATE modifier ${{{}}}: expected "
                                                 "${{offset[,width[,base]]}} with base d, o, x, "
                                                 "X, n or N", mods)};
      };
      const char* p = mods.data();
      const char* end = mods.data() + mods.size();
      if (p != end && *p == '+' && p + 1 != end && *(p + 1) != '-') ++p;  // "${+1}", as sscanf reads it
      auto [q, ec] = std::from_chars(p, end, offset);
      if (ec != std::errc()) return bad();
      p = q;
      if (p != end) {
        if (*p++ != ',') return bad();
        auto [q2, ec2] = std::from_chars(p, end, width);
        if (ec2 != std::errc() || width > 255) return bad();
        p = q2;
        if (p != end) {
          if (*p++ != ',' || p + 1 != end) return bad();
          base = *p;
          if (std::string_view("doxXnN").find(base) == std::string_view::npos) return bad();
        }
      }
      k = close + 1;
      last_offset = offset;
    }
    const int64_t v = i + offset;
    if (v < 0 || v > 0xffffffffll)
      return core::Error{"", 0, 0, fmt::format("$GENERATE {}: {} + {} is out of range", tmpl, i, offset)};
    if (base == 'n' || base == 'N') {
      // Each hex digit followed by a dot, lowest first, padded with zero digits to `width`
      // characters; the trailing dot stays only when exactly `width` characters end with it
      // (named-compilezone: ${0,3,n} of 0x400 is "0.0.4", ${0,4,n} of 0xfa is "a.f.").
      const char* digits = base == 'n' ? "0123456789abcdef" : "0123456789ABCDEF";
      std::string nib;
      uint64_t x = uint64_t(v);
      do {
        nib += digits[x & 0xf];
        nib += '.';
        x >>= 4;
      } while (x != 0);
      while (nib.size() < width) nib += width - nib.size() == 1 ? "0" : "0.";
      const size_t keep = std::max<size_t>(width, nib.size() - 1);
      out += nib.substr(0, std::min(keep, nib.size()));
      continue;
    }
    switch (base) {
      case 'o': out += fmt::format("{:0{}o}", v, width); break;
      case 'x': out += fmt::format("{:0{}x}", v, width); break;
      case 'X': out += fmt::format("{:0{}X}", v, width); break;
      default: out += fmt::format("{:0{}d}", v, width); break;
    }
  }
  return out;
}

namespace {

// A char-string's bytes (RFC 1035 5.1 escapes: \DDD and \X), quoted or not.
core::Result<std::string> char_string_bytes(std::string_view value) {
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"')
    value = value.substr(1, value.size() - 2);
  std::string text;
  for (size_t i = 0; i < value.size(); ++i) {
    if (value[i] != '\\') {
      text += value[i];
      continue;
    }
    if (i + 3 < value.size() && std::isdigit(static_cast<unsigned char>(value[i + 1])) &&
        std::isdigit(static_cast<unsigned char>(value[i + 2])) &&
        std::isdigit(static_cast<unsigned char>(value[i + 3]))) {
      const int v = (value[i + 1] - '0') * 100 + (value[i + 2] - '0') * 10 + (value[i + 3] - '0');
      if (v > 255) return core::Error{"", 0, 0, fmt::format("alpn {}: \\{} is not a byte", value, v)};
      text += char(v);
      i += 3;
    } else if (i + 1 < value.size()) {
      text += value[++i];
    } else {
      return core::Error{"", 0, 0, fmt::format("alpn {}: ends in a backslash", value)};
    }
  }
  return text;
}

}  // namespace

core::Result<std::string> svcb_alpn_wire(std::string_view value, bool generic) {
  // First level: the char-string's escapes.
  auto bytes = char_string_bytes(value);
  if (!bytes) return bytes;
  const std::string& text = *bytes;
  if (generic) {
    // key1=...: the bytes are the wire form (RFC 9460 2.1), which must be a list of IDs.
    for (size_t at = 0; at < text.size(); at += 1 + uint8_t(text[at]))
      if (text[at] == 0 || at + 1 + uint8_t(text[at]) > text.size())
        return core::Error{"", 0, 0, fmt::format("key1 {}: not a list of length-prefixed alpn "
                                                 "IDs (RFC 9460 7.1.1)", value)};
    if (text.empty()) return core::Error{"", 0, 0, fmt::format("key1 {}: no alpn ID", value)};
    return text;
  }
  // Second level: the comma-separated list.
  std::string wire, id;
  auto flush = [&]() -> bool {
    if (id.empty() || id.size() > 255) return false;
    wire += char(id.size());
    wire += id;
    id.clear();
    return true;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      id += text[++i];
    } else if (text[i] == ',') {
      if (!flush()) return core::Error{"", 0, 0, fmt::format("alpn {}: an empty or too long ID", value)};
    } else {
      id += text[i];
    }
  }
  if (!flush()) return core::Error{"", 0, 0, fmt::format("alpn {}: an empty or too long ID", value)};
  return wire;
}

bool svcb_rekey(std::string& rdata, uint16_t from, uint16_t to) {
  // SvcPriority, TargetName (uncompressed), then (key, length, value) ...
  size_t at = 2;
  while (at < rdata.size() && rdata[at] != 0) at += 1 + uint8_t(rdata[at]);
  if (at >= rdata.size()) return false;
  ++at;
  struct Param {
    uint16_t key;
    std::string_view bytes;  // key, length and value
  };
  std::vector<Param> params;
  const std::string copy = rdata;
  const std::string_view all(copy);
  for (size_t p = at; p < all.size();) {
    if (p + 4 > all.size()) return false;
    const uint16_t key = uint16_t(uint8_t(all[p]) << 8 | uint8_t(all[p + 1]));
    const size_t len = size_t(uint8_t(all[p + 2]) << 8 | uint8_t(all[p + 3]));
    if (p + 4 + len > all.size()) return false;
    params.push_back(Param{key == from ? to : key, all.substr(p, 4 + len)});
    p += 4 + len;
  }
  std::stable_sort(params.begin(), params.end(), [](const Param& a, const Param& b) { return a.key < b.key; });
  rdata.resize(at);
  for (const Param& p : params) {
    rdata += char(p.key >> 8);
    rdata += char(p.key);
    rdata += p.bytes.substr(2);
  }
  return true;
}

std::vector<std::string> split_strings(std::string_view token) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < token.size(); ++i) {
    const char c = token[i];
    if (c == '\\' && i + 1 < token.size()) {
      cur += c;
      cur += token[++i];
    } else if (c == '"') {
      if (quoted) {
        out.push_back(cur + c);
        cur.clear();
      } else if (!cur.empty()) {
        out.push_back(std::move(cur));
        cur = "\"";
      } else {
        cur = "\"";
      }
      quoted = !quoted;
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

std::string svcb_check(std::string_view rdata) {
  size_t at = 2;
  while (at < rdata.size() && rdata[at] != 0) at += 1 + uint8_t(rdata[at]);
  if (at >= rdata.size()) return "SVCB/HTTPS RDATA is not well formed";
  ++at;
  std::vector<uint16_t> keys;
  std::string_view mandatory;
  bool has_mandatory = false;
  for (size_t p = at; p + 4 <= rdata.size();) {
    const uint16_t key = uint16_t(uint8_t(rdata[p]) << 8 | uint8_t(rdata[p + 1]));
    const size_t len = size_t(uint8_t(rdata[p + 2]) << 8 | uint8_t(rdata[p + 3]));
    if (p + 4 + len > rdata.size()) return "SVCB/HTTPS RDATA is not well formed";
    if (std::find(keys.begin(), keys.end(), key) != keys.end())
      return fmt::format("SVCB/HTTPS parameter key{} is given twice (RFC 9460 2.2)", key);
    keys.push_back(key);
    if (key == 0) {
      mandatory = rdata.substr(p + 4, len);
      has_mandatory = true;
    }
    p += 4 + len;
  }
  if (!has_mandatory) return {};
  if (mandatory.empty() || mandatory.size() % 2 != 0)
    return "SVCB/HTTPS mandatory needs a list of keys (RFC 9460 8)";
  std::vector<uint16_t> listed;
  for (size_t i = 0; i < mandatory.size(); i += 2) {
    const uint16_t key = uint16_t(uint8_t(mandatory[i]) << 8 | uint8_t(mandatory[i + 1]));
    if (key == 0) return "SVCB/HTTPS mandatory cannot list mandatory itself (RFC 9460 8)";
    if (std::find(listed.begin(), listed.end(), key) != listed.end())
      return fmt::format("SVCB/HTTPS mandatory lists key{} twice (RFC 9460 8)", key);
    listed.push_back(key);
    if (std::find(keys.begin(), keys.end(), key) == keys.end())
      return fmt::format("SVCB/HTTPS mandatory lists key{}, which the record does not have "
                         "(RFC 9460 8)", key);
  }
  return {};
}

core::Result<std::string> base32hex_decode(std::string_view text) {
  // Bits left over at the end of each length mod 8: 2, 4, 5 and 7 characters end on whole
  // bytes (1 to 4 of them); 1, 3 and 6 cannot.
  static constexpr bool kWhole[8] = {true, false, true, false, true, true, false, true};
  if (!kWhole[text.size() % 8])
    return core::Error{"", 0, 0, fmt::format("{}: not base32hex (RFC 4648 7, no padding): {} characters "
                                  "do not make whole bytes", text, text.size())};
  std::string out;
  uint32_t bits = 0;
  int have = 0;
  for (char c : text) {
    int v;
    if (c >= '0' && c <= '9') {
      v = c - '0';
    } else if (lower(c) >= 'a' && lower(c) <= 'v') {
      v = lower(c) - 'a' + 10;
    } else {
      return core::Error{"", 0, 0, fmt::format("{}: not base32hex (RFC 4648 7, no padding): '{}'", text, c)};
    }
    bits = (bits << 5) | uint32_t(v);
    have += 5;
    if (have >= 8) {
      have -= 8;
      out += char((bits >> have) & 0xff);
    }
  }
  // The bits past the last whole byte are zero (RFC 4648 3.5), as BIND requires.
  if ((bits & ((1u << have) - 1)) != 0)
    return core::Error{"", 0, 0, fmt::format("{}: not base32hex (RFC 4648 7): the last character "
                                             "leaves bits that are not zero", text)};
  return out;
}

std::string nxt_bitmap(const std::vector<uint16_t>& types) {
  std::string map;
  for (uint16_t t : types) {
    if (map.size() < size_t(t / 8 + 1)) map.resize(t / 8 + 1, '\0');
    map[t / 8] = char(uint8_t(map[t / 8]) | (0x80 >> (t % 8)));
  }
  return map;
}

std::optional<uint16_t> parse_key_flags(std::string_view text) {
  if (text.empty()) return std::nullopt;
  unsigned v = 0;
  if (std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    if (r.ec != std::errc() || v > 0xffff) return std::nullopt;
    return uint16_t(v);
  }
  if (text.size() > 2 && text[0] == '0' && lower(text[1]) == 'x') {
    const auto r = std::from_chars(text.data() + 2, text.data() + text.size(), v, 16);
    if (r.ec != std::errc() || r.ptr != text.data() + text.size() || v > 0xffff) return std::nullopt;
    return uint16_t(v);
  }
  // RFC 2535 §7.1: bits 0-1 (counting from the left) say what the key is not for, bit 2 and
  // 4-5 and 8-11 are flags, 3 extends them, 6-7 name the owner's kind, 12-15 the signatory
  // field; KSK is RFC 4034's SEP bit (15).
  static constexpr std::pair<std::string_view, uint16_t> kNames[] = {
      {"NOCONF", 0x4000}, {"NOAUTH", 0x8000}, {"NOKEY", 0xc000}, {"FLAG2", 0x2000},
      {"EXTEND", 0x1000}, {"FLAG4", 0x0800},  {"FLAG5", 0x0400}, {"USER", 0x0000},
      {"ZONE", 0x0100},   {"HOST", 0x0200},   {"NTYP3", 0x0300}, {"FLAG8", 0x0080},
      {"FLAG9", 0x0040},  {"FLAG10", 0x0020}, {"FLAG11", 0x0010}, {"KSK", 0x0001},
  };
  uint16_t flags = 0;
  for (size_t at = 0; at <= text.size();) {
    size_t bar = text.find('|', at);
    if (bar == std::string_view::npos) bar = text.size();
    const std::string_view word = text.substr(at, bar - at);
    bool known = false;
    for (const auto& [name, bits] : kNames)
      if (iequals(word, name)) flags |= bits, known = true;
    unsigned sig = 0;
    if (!known && word.size() > 3 && iequals(word.substr(0, 3), "SIG")) {
      const auto r = std::from_chars(word.data() + 3, word.data() + word.size(), sig);
      known = r.ec == std::errc() && r.ptr == word.data() + word.size() && sig <= 15;
      flags |= uint16_t(sig);
    }
    if (!known) return std::nullopt;
    at = bar + 1;
  }
  return flags;
}

std::string loc_check(const std::vector<std::string>& t, size_t k) {
  for (const auto& [hemispheres, max] : {std::pair<std::string_view, int>{"NSns", 90}, {"EWew", 180}}) {
    double parts[3] = {0, 0, 0};
    int n = 0;
    for (; k < t.size() && n < 3; ++k, ++n) {
      if (t[k].size() == 1 && hemispheres.find(t[k][0]) != std::string_view::npos) break;
      char* end = nullptr;
      parts[n] = std::strtod(t[k].c_str(), &end);
      if (end == t[k].c_str() || *end != '\0' || parts[n] < 0) return {};  // ldns reports it
    }
    if (k >= t.size() || t[k].size() != 1 || hemispheres.find(t[k][0]) == std::string_view::npos)
      return {};
    ++k;
    if (parts[1] >= 60 || parts[2] >= 60 || parts[0] + parts[1] / 60 + parts[2] / 3600 > max)
      return fmt::format("LOC: {} {} {} is past {} degrees, or its minutes or seconds past 59 "
                         "(RFC 1876 3)", parts[0], parts[1], parts[2], max);
  }
  return {};
}

std::string apl_check(std::string_view item) {
  if (!item.empty() && item[0] == '!') item.remove_prefix(1);
  const size_t colon = item.find(':'), slash = item.rfind('/');
  if (colon == std::string_view::npos || slash == std::string_view::npos || slash < colon) return {};
  const std::string_view afi = item.substr(0, colon), prefix = item.substr(slash + 1);
  unsigned len = 0;
  const auto r = std::from_chars(prefix.data(), prefix.data() + prefix.size(), len);
  if (r.ec != std::errc() || r.ptr != prefix.data() + prefix.size()) return {};
  const unsigned max = afi == "1" ? 32 : afi == "2" ? 128 : 0;
  if (max == 0) return fmt::format("APL {}: address family {} is not 1 or 2", item, afi);
  if (len > max)
    return fmt::format("APL {}: a prefix of {} is longer than {} (RFC 3123 4)", item, len, max);
  return {};
}

core::Result<std::string> parse_nsap(std::string_view text) {
  if (text.size() < 2 || text[0] != '0' || lower(text[1]) != 'x')
    return core::Error{"", 0, 0, fmt::format("NSAP {}: must start with 0x (RFC 1706 5)", text)};
  std::string out;
  int high = -1;
  for (char c : text.substr(2)) {
    if (c == '.') continue;
    const int v = hex_value(c);
    if (v < 0) return core::Error{"", 0, 0, fmt::format("NSAP {}: '{}' is not a hex digit", text, c)};
    if (high < 0) {
      high = v;
    } else {
      out += char(high << 4 | v);
      high = -1;
    }
  }
  if (high >= 0) return core::Error{"", 0, 0, fmt::format("NSAP {}: an odd number of hex digits", text)};
  if (out.empty()) return core::Error{"", 0, 0, fmt::format("NSAP {}: no address after 0x", text)};
  return out;
}

}  // namespace gslb::dns::master
