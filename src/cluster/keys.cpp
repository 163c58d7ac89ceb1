#include "cluster/keys.hpp"

#include <array>

namespace gslb::cluster {

namespace {
constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}

std::string base64(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8 | uint8_t(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
  }
  if (const size_t rest = in.size() - i) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    if (rest == 2) v |= uint32_t(uint8_t(in[i + 1])) << 8;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::optional<std::string> unbase64(std::string_view in) {
  std::array<int8_t, 256> value;
  value.fill(-1);
  for (size_t i = 0; i < kAlphabet.size(); ++i) value[uint8_t(kAlphabet[i])] = int8_t(i);
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const int8_t v = value[uint8_t(c)];
    if (v < 0) return std::nullopt;
    acc = acc << 6 | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += char((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::string target_name(std::string_view address, std::string_view probe) {
  std::string out(address);
  out += '/';
  out += probe;
  return out;
}

std::string Keys::node(std::string_view n) const { return prefix_ + "/nodes/" + std::string(n); }

std::string Keys::vote(std::string_view n, std::string_view target) const {
  return prefix_ + "/votes/" + std::string(n) + "/" + std::string(target);
}

std::string Keys::drain(std::string_view address) const {
  return prefix_ + "/drains/" + std::string(address);
}

Key Keys::parse(std::string_view key) const {
  Key k;
  if (key.size() <= prefix_.size() + 1 || key.substr(0, prefix_.size()) != prefix_ ||
      key[prefix_.size()] != '/')
    return k;
  key.remove_prefix(prefix_.size() + 1);
  auto take = [&](std::string_view word) {
    if (key.substr(0, word.size()) != word) return false;
    key.remove_prefix(word.size());
    return !key.empty();
  };
  if (take("nodes/") && key.find('/') == std::string_view::npos) {
    k.kind = Key::Kind::node;
    k.node = key;
  } else if (take("votes/")) {
    const size_t slash = key.find('/');
    // NODE/ADDRESS/PROBE: the target has exactly one more '/'.
    if (slash == 0 || slash == std::string_view::npos) return k;
    const std::string_view target = key.substr(slash + 1);
    const size_t mid = target.find('/');
    if (mid == 0 || mid == std::string_view::npos || mid + 1 == target.size() ||
        target.find('/', mid + 1) != std::string_view::npos)
      return k;
    k.kind = Key::Kind::vote;
    k.node = key.substr(0, slash);
    k.target = target;
  } else if (take("drains/") && key.find('/') == std::string_view::npos) {
    k.kind = Key::Kind::drain;
    k.address = key;
  }
  return k;
}

}  // namespace gslb::cluster
