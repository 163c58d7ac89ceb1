// TSIG (RFC 8945) for zone transfers: keys from BIND key files (`tsig-keygen` output), the
// request's signature checked, every transfer message signed. HMAC-SHA256 (and SHA-1/SHA-512,
// which BIND and NSD also offer) through OpenSSL's libcrypto. Pure functions of bytes and a
// clock reading; used by the DNS workers' TCP loop for transfers, never on the UDP query path.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.hpp"

namespace gslb::dns {

struct TsigKey {
  std::string name;       // lower-cased wire form
  std::string algorithm;  // lower-cased wire form, e.g. "hmac-sha256."
  std::string secret;     // decoded bytes
  std::string text_name;  // as written, for messages
};

// Every `key "name" { algorithm hmac-sha256; secret "base64"; };` in a BIND key file. Errors are
// appended with their line.
std::vector<TsigKey> parse_key_file(std::string_view text, const std::string& path,
                                    core::Errors& errors);

struct TsigCheck {
  enum class Result { unsigned_query, ok, bad_key, bad_sig, bad_time, malformed };
  Result result = Result::unsigned_query;
  const TsigKey* key = nullptr;  // the key the request named, if known
  std::string key_name;          // as the request named it (text), for the log
  std::string mac;               // the request's MAC, which the first response covers
  uint64_t time_signed = 0;
  uint16_t error = 0;            // the TSIG's Error field: in a response, why the peer refused
                                 // our signature (16 BADSIG, 17 BADKEY, 18 BADTIME)
};
const char* to_string(TsigCheck::Result r);
// "BADSIG", "BADKEY", "BADTIME", "BADTRUNC" (RFC 8945 §3), else the number.
std::string tsig_error_text(uint16_t error);

// Checks the TSIG record that ends `message` (if any) against `keys`; `now` in seconds since
// the epoch (the fudge the message states is allowed either way, RFC 8945 §5.2.3). A request
// is checked with an empty `request_mac`; a response (the reply to a NOTIFY we signed) with
// the MAC of the request it answers, which its own MAC covers (§5.3).
TsigCheck tsig_verify(std::span<const uint8_t> message, const std::vector<TsigKey>& keys,
                      uint64_t now, std::string_view request_mac = {});

// Signs a stream of response messages (RFC 8945 §5.3.1): the first covers the request's MAC and
// every TSIG variable, each next one the previous MAC and the timers. Every message is signed.
// With an empty request MAC it signs a request (NOTIFY, tests).
class TsigSigner {
 public:
  TsigSigner(const TsigKey& key, std::string request_mac, uint64_t now)
      : key_(&key), prior_mac_(std::move(request_mac)), now_(now) {}
  // Appends a TSIG record to `message` (unframed, header first) and counts it in ARCOUNT.
  void sign(std::string& message);
  // The MAC of the last message signed: a signed request's, which the reply must cover.
  const std::string& mac() const { return prior_mac_; }

 private:
  const TsigKey* key_;
  std::string prior_mac_;
  uint64_t now_;
  bool first_ = true;
};

}  // namespace gslb::dns
