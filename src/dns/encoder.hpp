// Writes resource records in wire form with name compression, for answer templates and zone
// transfers. Control-side code: it allocates freely.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "dns/table.hpp"
#include "dns/zone.hpp"

namespace gslb::dns {

class Encoder {
 public:
  // Records are written after a header and a question whose name is `base` (lower-cased wire),
  // so the first byte written sits at offset 12 + base.size() + 4 of the message.
  // With `exact_case`, a name is compressed only against one spelled the same way (zone
  // transfers keep the zone file's case, RFC 4343); `base` is then the question as sent.
  explicit Encoder(std::string_view base, bool exact_case = false);

  // One record. `owner` empty means "the question name": a pointer to offset 12 that never
  // moves, so one template can answer for every name a wildcard covers.
  void rr(std::string_view owner, uint16_t type, uint32_t ttl, const Rdata& rdata);
  // Every record of an RRset; returns how many.
  uint16_t rrset(std::string_view owner, const RRset& set, uint32_t ttl);

  size_t size() const noexcept { return out_.size(); }
  std::string& bytes() noexcept { return out_; }
  std::vector<uint16_t>& shifts() noexcept { return shifts_; }

 private:
  void name(std::string_view wire);
  void put16(uint16_t v);
  void put32(uint32_t v);

  struct Known {
    std::string suffix;  // lower-cased wire (as written with exact_case)
    uint16_t offset;     // in the message
  };
  std::vector<Known> known_;
  std::string out_;
  std::vector<uint16_t> shifts_;
  size_t start_;
  bool exact_case_;
};

// The records of one answer, section by section, before encoding.
struct TemplateSpec {
  using Rec = RecordRef;
  std::string base;  // the name the question is assumed to be (a suffix of every real one)
  std::vector<Rec> answer, authority, glue;  // glue: additional records that must fit
  std::vector<Rec> optional;                 // additional records dropped when short of room
  uint8_t rcode = 0;
  bool aa = true;
  uint8_t deny = 0;  // Template::deny
};

BuiltTemplate build_template(const TemplateSpec& spec);

}  // namespace gslb::dns
