// The pure half of gslb-route-follow: one JSON line in, set_health calls out.
#include <gslb/follow.hpp>

#include <cctype>
#include <cstdlib>

namespace gslb::follow {

namespace {

// A reader for the flat JSON objects of the stream: string, number, true/false/null values;
// nested values are rejected (v1 has none). Not a general JSON parser, and need not be.
class Reader {
 public:
  explicit Reader(std::string_view s) : s_(s) {}

  bool object(std::map<std::string, std::string>& out, std::string* error) {
    skip();
    if (!eat('{')) return fail(error, "not a JSON object");
    skip();
    if (eat('}')) return end(error);
    for (;;) {
      std::string key, value;
      skip();
      if (!string(key)) return fail(error, "expected a quoted key");
      skip();
      if (!eat(':')) return fail(error, "expected ':'");
      skip();
      if (peek() == '"') {
        if (!string(value)) return fail(error, "bad string value");
      } else if (!scalar(value)) {
        return fail(error, "unsupported value for \"" + key + "\"");
      }
      out[key] = std::move(value);
      skip();
      if (eat(',')) continue;
      if (eat('}')) return end(error);
      return fail(error, "expected ',' or '}'");
    }
  }

 private:
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  bool eat(char c) {
    if (peek() != c) return false;
    ++i_;
    return true;
  }
  void skip() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r')) ++i_;
  }
  bool end(std::string* error) {
    skip();
    return i_ == s_.size() || fail(error, "text after the object");
  }
  static bool fail(std::string* error, std::string why) {
    if (error) *error = std::move(why);
    return false;
  }
  bool scalar(std::string& out) {
    size_t start = i_;
    while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '-' ||
                              s_[i_] == '+' || s_[i_] == '.'))
      ++i_;
    out.assign(s_.substr(start, i_ - start));
    return !out.empty();
  }
  static void utf8(uint32_t cp, std::string& out) {
    if (cp < 0x80) {
      out += char(cp);
    } else if (cp < 0x800) {
      out += char(0xC0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3F));
    } else {
      out += char(0xE0 | (cp >> 12));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    }
  }
  bool string(std::string& out) {
    if (!eat('"')) return false;
    while (i_ < s_.size()) {
      char c = s_[i_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= s_.size()) return false;
      switch (char e = s_[i_++]) {
        case '"': case '\\': case '/': out += e; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          if (i_ + 4 > s_.size()) return false;
          char hex[5] = {s_[i_], s_[i_ + 1], s_[i_ + 2], s_[i_ + 3], 0};
          char* endp = nullptr;
          uint32_t cp = uint32_t(std::strtoul(hex, &endp, 16));
          if (endp != hex + 4) return false;
          i_ += 4;
          // A surrogate half stands alone here (reasons are ASCII in practice): U+FFFD.
          utf8(cp >= 0xD800 && cp <= 0xDFFF ? 0xFFFD : cp, out);
          break;
        }
        default: return false;
      }
    }
    return false;
  }

  std::string_view s_;
  size_t i_ = 0;
};

std::optional<State> parse_state(const std::string& s) {
  if (s == "up") return State::kUp;
  if (s == "down") return State::kDown;
  if (s == "unknown") return State::kUnknown;
  if (s == "drained") return State::kDrained;
  return std::nullopt;
}

}  // namespace

const char* to_string(State s) noexcept {
  switch (s) {
    case State::kUnknown: return "unknown";
    case State::kUp: return "up";
    case State::kDown: return "down";
    case State::kDrained: return "drained";
  }
  return "?";
}

const char* to_string(Notice::Kind k) noexcept {
  switch (k) {
    case Notice::Kind::kConnected: return "connected";
    case Notice::Kind::kSynced: return "synced";
    case Notice::Kind::kDisconnected: return "disconnected";
    case Notice::Kind::kHealth: return "health";
    case Notice::Kind::kBadLine: return "bad-line";
  }
  return "?";
}

std::optional<Line> parse_line(std::string_view text, std::string* error) {
  std::map<std::string, std::string> f;
  if (!Reader(text).object(f, error)) return std::nullopt;
  auto v = f.find("v");
  if (v == f.end()) {
    if (error) *error = "no \"v\" (format version)";
    return std::nullopt;
  }
  if (v->second != std::to_string(kStreamVersion)) {
    if (error) *error = "format version " + v->second + ", this library reads " + std::to_string(kStreamVersion);
    return std::nullopt;
  }
  Line line;
  const std::string& type = f["type"];
  if (type == "synced") {
    line.type = Line::Type::kSynced;
  } else if (type == "state") {
    auto state = parse_state(f["state"]);
    if (!state || f["address"].empty()) {
      if (error) *error = "state line without a known state or an address";
      return std::nullopt;
    }
    line.type = Line::Type::kState;
    line.verdict = Verdict{f["address"], f["probe"], *state, f["reason"], f["time"]};
  }
  return line;
}

void VerdictTable::begin_snapshot() {
  for (auto& [key, t] : targets_) t.seen = false;
}

std::optional<route::Health> VerdictTable::fold(const std::string& address) const {
  bool up = false;
  for (auto it = targets_.lower_bound({address, {}}); it != targets_.end() && it->first.first == address; ++it) {
    if (it->second.state == State::kDown || it->second.state == State::kDrained) return route::Health::kUnhealthy;
    up = up || it->second.state == State::kUp;
  }
  if (up) return route::Health::kHealthy;
  return std::nullopt;
}

std::optional<HealthChange> VerdictTable::settle(const std::string& address) {
  auto now = fold(address);
  auto it = decided_.find(address);
  if (!now) {
    // No opinion left. An address whose targets all went away returns to the default (healthy);
    // one whose targets are merely unknown keeps what it had.
    const bool gone = targets_.lower_bound({address, {}}) == targets_.end() ||
                      targets_.lower_bound({address, {}})->first.first != address;
    if (!gone || it == decided_.end()) return std::nullopt;
    const bool was_healthy = it->second == route::Health::kHealthy;
    decided_.erase(it);
    if (was_healthy) return std::nullopt;
    return HealthChange{address, route::Health::kHealthy};
  }
  if (it != decided_.end() && it->second == *now) return std::nullopt;
  decided_[address] = *now;
  return HealthChange{address, *now};
}

std::optional<HealthChange> VerdictTable::record(const Verdict& v) {
  if (!probe_.empty() && v.probe != probe_) return std::nullopt;
  auto [it, fresh] = targets_.try_emplace({v.address, v.probe});
  it->second.seen = true;
  // Unknown does not undo a verdict: after a restart gslbd says unknown until its first result.
  if (v.state != State::kUnknown || fresh) it->second.state = v.state;
  return settle(v.address);
}

std::vector<HealthChange> VerdictTable::end_snapshot() {
  std::vector<std::string> touched;
  for (auto it = targets_.begin(); it != targets_.end();) {
    if (it->second.seen) {
      ++it;
      continue;
    }
    if (touched.empty() || touched.back() != it->first.first) touched.push_back(it->first.first);
    it = targets_.erase(it);
  }
  std::vector<HealthChange> changes;
  for (const auto& a : touched)
    if (auto c = settle(a)) changes.push_back(std::move(*c));
  return changes;
}

std::optional<route::Health> VerdictTable::health(const std::string& address) const {
  auto it = decided_.find(address);
  if (it == decided_.end()) return std::nullopt;
  return it->second;
}

size_t apply(route::Cluster& cluster, const HealthChange& change) {
  size_t n = 0;
  for (const auto& ep : cluster.endpoints())
    if (ep->address() == change.address) n += cluster.set_health(ep->address(), ep->port(), change.health);
  return n;
}

}  // namespace gslb::follow
