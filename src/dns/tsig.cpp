#include "dns/tsig.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cctype>

#include "dns/wire.hpp"

namespace gslb::dns {

namespace {

constexpr uint16_t kTypeTsig = 250;
constexpr uint16_t kClassAny = 255;
constexpr uint16_t kFudge = 300;  // seconds, as BIND and NSD send

const EVP_MD* digest_of(std::string_view algorithm_wire) {
  const std::string a = name_to_text(algorithm_wire);
  if (a == "hmac-sha256.") return EVP_sha256();
  if (a == "hmac-sha512.") return EVP_sha512();
  if (a == "hmac-sha384.") return EVP_sha384();
  if (a == "hmac-sha224.") return EVP_sha224();
  if (a == "hmac-sha1.") return EVP_sha1();
  return nullptr;
}

std::string hmac(const TsigKey& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(digest_of(key.algorithm), key.secret.data(), int(key.secret.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

void add16(std::string& s, uint16_t v) {
  s += char(v >> 8);
  s += char(v);
}
void add48(std::string& s, uint64_t v) {
  for (int shift = 40; shift >= 0; shift -= 8) s += char(v >> shift);
}

// A name at `off` (following compression pointers, at most 64 of them), lower-cased wire form;
// `end` is where the name ends at `off`. False if malformed.
bool read_name(const uint8_t* p, size_t len, size_t off, std::string& out, size_t& end) {
  out.clear();
  end = 0;
  for (int jumps = 0; jumps < 64;) {
    if (off >= len) return false;
    const uint8_t l = p[off];
    if ((l & 0xC0) == 0xC0) {
      if (off + 1 >= len) return false;
      if (!end) end = off + 2;
      off = size_t(l & 0x3F) << 8 | p[off + 1];
      ++jumps;
      continue;
    }
    if (l & 0xC0 || off + 1 + l > len || out.size() + 1 + l > kMaxName) return false;
    out += char(l);
    for (unsigned i = 0; i < l; ++i) out += char(std::tolower(p[off + 1 + i]));
    off += 1 + l;
    if (l == 0) {
      if (!end) end = off;
      return true;
    }
  }
  return false;
}

std::string base64_decode(std::string_view b64, bool& ok) {
  std::string clean;
  for (char c : b64)
    if (!std::isspace(static_cast<unsigned char>(c))) clean += c;
  ok = !clean.empty() && clean.size() % 4 == 0;
  if (!ok) return {};
  std::string out(clean.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(clean.data()), int(clean.size()));
  if (n < 0) {
    ok = false;
    return {};
  }
  size_t pad = 0;
  while (pad < 2 && clean[clean.size() - 1 - pad] == '=') ++pad;
  out.resize(size_t(n) - pad);
  return out;
}

}  // namespace

const char* to_string(TsigCheck::Result r) {
  switch (r) {
    case TsigCheck::Result::unsigned_query: return "unsigned";
    case TsigCheck::Result::ok: return "ok";
    case TsigCheck::Result::bad_key: return "unknown-key";
    case TsigCheck::Result::bad_sig: return "bad-signature";
    case TsigCheck::Result::bad_time: return "bad-time";
    case TsigCheck::Result::malformed: return "malformed";
  }
  return "?";
}

std::string tsig_error_text(uint16_t error) {
  switch (error) {
    case 16: return "BADSIG";
    case 17: return "BADKEY";
    case 18: return "BADTIME";
    case 22: return "BADTRUNC";
  }
  return std::to_string(error);
}

std::vector<TsigKey> parse_key_file(std::string_view text, const std::string& path,
                                    core::Errors& errors) {
  // Tokens: words, quoted strings, and the punctuation { } ; — comments (#, //) dropped.
  struct Tok {
    std::string text;
    int line;
    bool quoted;
  };
  std::vector<Tok> toks;
  int line = 1;
  for (size_t i = 0; i < text.size();) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
      ++i;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (c == '#' || (c == '/' && i + 1 < text.size() && text[i + 1] == '/')) {
      while (i < text.size() && text[i] != '\n') ++i;
    } else if (c == '{' || c == '}' || c == ';') {
      toks.push_back({std::string(1, c), line, false});
      ++i;
    } else if (c == '"') {
      const size_t close = text.find('"', i + 1);
      if (close == std::string_view::npos) {
        errors.push_back(core::Error{path, line, 0, "quoted text is not closed"});
        return {};
      }
      toks.push_back({std::string(text.substr(i + 1, close - i - 1)), line, true});
      i = close + 1;
    } else {
      size_t e = i;
      while (e < text.size() && !std::isspace(static_cast<unsigned char>(text[e])) &&
             std::string_view("{};\"").find(text[e]) == std::string_view::npos)
        ++e;
      toks.push_back({std::string(text.substr(i, e - i)), line, false});
      i = e;
    }
  }
  std::vector<TsigKey> keys;
  auto expect = [&](size_t k, std::string_view what) {
    if (k < toks.size() && toks[k].text == what && !toks[k].quoted) return true;
    errors.push_back(core::Error{path, k < toks.size() ? toks[k].line : line, 0,
                                 fmt::format("expected '{}'", what)});
    return false;
  };
  for (size_t k = 0; k < toks.size();) {
    if (toks[k].text != "key" || k + 2 >= toks.size()) {
      errors.push_back(core::Error{path, toks[k].line, 0, "expected key \"name\" { ... };"});
      return keys;
    }
    const int at = toks[k].line;
    TsigKey key;
    key.text_name = toks[k + 1].text;
    key.name = name_from_text(key.text_name);
    name_lower(key.name);
    k += 2;
    if (!expect(k++, "{")) return keys;
    bool have_secret = false;
    while (k < toks.size() && toks[k].text != "}") {
      if (k + 2 >= toks.size()) return keys;
      const std::string field = toks[k].text;
      const std::string value = toks[k + 1].text;
      if (field == "algorithm") {
        key.algorithm = name_from_text(value);
        name_lower(key.algorithm);
        if (!digest_of(key.algorithm))
          errors.push_back(core::Error{path, toks[k].line, 0,
                                       fmt::format("key {}: algorithm {} is not supported (hmac-sha1, "
                                                   "hmac-sha224, hmac-sha256, hmac-sha384, hmac-sha512)",
                                                   key.text_name, value)});
      } else if (field == "secret") {
        bool ok = false;
        key.secret = base64_decode(value, ok);
        if (!ok)
          errors.push_back(core::Error{path, toks[k].line, 0,
                                       fmt::format("key {}: secret is not base64", key.text_name)});
        have_secret = true;
      } else {
        errors.push_back(core::Error{path, toks[k].line, 0,
                                     fmt::format("key {}: unknown field {}", key.text_name, field)});
      }
      k += 2;
      if (!expect(k++, ";")) return keys;
    }
    if (!expect(k++, "}") || !expect(k++, ";")) return keys;
    if (key.name.empty() || key.algorithm.empty() || !have_secret) {
      errors.push_back(core::Error{path, at, 0,
                                   fmt::format("key {}: needs a name, an algorithm and a secret",
                                               key.text_name)});
      continue;
    }
    keys.push_back(std::move(key));
  }
  return keys;
}

TsigCheck tsig_verify(std::span<const uint8_t> message, const std::vector<TsigKey>& keys,
                      uint64_t now, std::string_view request_mac) {
  TsigCheck r;
  const uint8_t* p = message.data();
  const size_t len = message.size();
  if (len < kHeaderSize) return r;
  const unsigned counts = unsigned(get16(p + 4)) + get16(p + 6) + get16(p + 8) + get16(p + 10);
  if (get16(p + 10) == 0) return r;
  // Walk to the last record; the question is only a name, type and class.
  size_t off = kHeaderSize, start = 0;
  std::string name;
  size_t end = 0;
  for (unsigned i = 0; i < counts; ++i) {
    start = off;
    if (!read_name(p, len, off, name, end)) return r.result = TsigCheck::Result::malformed, r;
    off = end;
    if (i < get16(p + 4)) {
      off += 4;
      continue;
    }
    if (off + 10 > len) return r.result = TsigCheck::Result::malformed, r;
    const size_t rdlen = get16(p + off + 8);
    if (i + 1 == counts) {
      if (get16(p + off) != kTypeTsig) return r;  // unsigned (or TSIG not last: not ours)
      if (get16(p + off + 2) != kClassAny || off + 10 + rdlen != len)
        return r.result = TsigCheck::Result::malformed, r;
      r.key_name = name_to_text(name);
      const size_t rd = off + 10;
      std::string alg;
      size_t alg_end = 0;
      if (!read_name(p, len, rd, alg, alg_end) || alg_end + 10 > len)
        return r.result = TsigCheck::Result::malformed, r;
      const uint8_t* t = p + alg_end;
      r.time_signed = uint64_t(get16(t)) << 32 | get32(t + 2);
      const uint16_t fudge = get16(t + 6);
      const size_t mac_len = get16(t + 8);
      if (alg_end + 10 + mac_len + 6 > len) return r.result = TsigCheck::Result::malformed, r;
      r.mac.assign(reinterpret_cast<const char*>(t + 10), mac_len);
      const uint8_t* after = t + 10 + mac_len;  // original ID, error, other len, other
      const uint16_t original_id = get16(after);
      r.error = get16(after + 2);
      const size_t other_len = get16(after + 4);
      if (alg_end + 10 + mac_len + 6 + other_len != len) return r.result = TsigCheck::Result::malformed, r;
      for (const auto& k : keys)
        if (k.name == name && k.algorithm == alg) r.key = &k;
      if (!r.key) return r.result = TsigCheck::Result::bad_key, r;
      // RFC 8945 §4.3.3: a response's request MAC (with its length), the message without the
      // TSIG (ARCOUNT one less, the original ID), then the TSIG variables.
      std::string data;
      if (!request_mac.empty()) {
        add16(data, uint16_t(request_mac.size()));
        data += request_mac;
      }
      const size_t head = data.size();
      data.append(reinterpret_cast<const char*>(p), start);
      data[head] = char(original_id >> 8);
      data[head + 1] = char(original_id);
      const uint16_t ar = uint16_t(get16(p + 10) - 1);
      data[head + 10] = char(ar >> 8);
      data[head + 11] = char(ar);
      data += name;
      add16(data, kClassAny);
      data.append(4, '\0');
      data += alg;
      data.append(reinterpret_cast<const char*>(t), 8);          // time signed, fudge
      data.append(reinterpret_cast<const char*>(after + 2), 4 + other_len);  // error, other
      const std::string want = hmac(*r.key, data);
      if (want.size() != r.mac.size() || CRYPTO_memcmp(want.data(), r.mac.data(), want.size()) != 0)
        return r.result = TsigCheck::Result::bad_sig, r;
      const uint64_t diff = now > r.time_signed ? now - r.time_signed : r.time_signed - now;
      if (diff > fudge) return r.result = TsigCheck::Result::bad_time, r;
      r.result = TsigCheck::Result::ok;
      return r;
    }
    off += 10 + rdlen;
  }
  return r;
}

void TsigSigner::sign(std::string& message) {
  std::string data;
  // A request (no prior MAC) covers none (RFC 8945 §4.3.3); a response covers the request's or
  // the previous message's.
  if (!first_ || !prior_mac_.empty()) {
    add16(data, uint16_t(prior_mac_.size()));
    data += prior_mac_;
  }
  data += message;
  std::string timers;
  add48(timers, now_);
  add16(timers, kFudge);
  if (first_) {
    data += key_->name;
    add16(data, kClassAny);
    data.append(4, '\0');
    data += key_->algorithm;
    data += timers;
    data.append(4, '\0');  // error 0, other length 0
  } else {
    data += timers;  // RFC 8945 §5.3.1: later messages cover the timers only
  }
  first_ = false;
  prior_mac_ = hmac(*key_, data);
  std::string rr = key_->name;
  add16(rr, kTypeTsig);
  add16(rr, kClassAny);
  rr.append(4, '\0');
  std::string rdata = key_->algorithm + timers;
  add16(rdata, uint16_t(prior_mac_.size()));
  rdata += prior_mac_;
  rdata += message.substr(0, 2);  // original ID
  rdata.append(4, '\0');          // error, other length
  add16(rr, uint16_t(rdata.size()));
  rr += rdata;
  message += rr;
  const uint16_t ar = uint16_t(get16(reinterpret_cast<const uint8_t*>(message.data()) + 10) + 1);
  message[10] = char(ar >> 8);
  message[11] = char(ar);
}

}  // namespace gslb::dns
