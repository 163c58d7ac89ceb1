#include "dns/handler.hpp"

#include <algorithm>
#include <cstring>

namespace gslb::dns {

namespace {

constexpr size_t kOptSize = 11;
constexpr uint16_t kFlagQR = 0x8000, kFlagAA = 0x0400, kFlagTC = 0x0200, kFlagRD = 0x0100,
                   kFlagCD = 0x0010, kOpcodeMask = 0x7800;

// Header + question copied from the query, counts to be filled by the caller.
size_t start_response(std::span<const uint8_t> query, const Query& q, uint8_t* out,
                      uint16_t flags, bool echo_question) noexcept {
  put16(out, q.id);
  put16(out + 2, uint16_t(kFlagQR | (q.flags & (kOpcodeMask | kFlagRD | kFlagCD)) | flags));
  std::memset(out + 4, 0, 8);
  if (!echo_question || !q.has_question) return kHeaderSize;
  put16(out + 4, 1);
  const size_t n = q.question_end - kHeaderSize;
  std::memcpy(out + kHeaderSize, query.data() + kHeaderSize, n);
  return kHeaderSize + n;
}

// RFC 6891 §6.1.3: our payload size in CLASS, the extended RCODE and DO in TTL (DO is copied,
// RFC 3225 §3).
size_t put_opt(uint8_t* p, const HandlerOptions& opt, const Query& q, uint16_t rcode) noexcept {
  p[0] = 0;
  put16(p + 1, rrtype::OPT);
  put16(p + 3, opt.edns_size);
  p[5] = uint8_t(rcode >> 4);
  p[6] = 0;
  p[7] = q.edns_do ? 0x80 : 0;
  p[8] = 0;
  put16(p + 9, 0);
  return kOptSize;
}

}  // namespace

size_t answer_error(std::span<const uint8_t> query, const Query& q, const HandlerOptions& opt,
                    std::span<uint8_t> out, uint16_t rcode, bool echo_question) noexcept {
  uint8_t* o = out.data();
  size_t n = start_response(query, q, o, rcode & 0xF, echo_question);
  if (q.has_edns && echo_question) {
    n += put_opt(o + n, opt, q, rcode);
    put16(o + 10, 1);
  }
  return n;
}

size_t answer(const Answers& answers, const HandlerOptions& opt, std::span<const uint8_t> query,
              std::span<uint8_t> out, bool tcp, Scratch& scratch, Outcome& outcome) noexcept {
  outcome = Outcome{};
  const AnswerTable& table = *answers.table;
  Query& q = scratch.q;
  switch (parse_query(query, q)) {
    case ParseStatus::ok:
      break;
    case ParseStatus::drop:
      return 0;
    case ParseStatus::formerr:
      outcome.rcode = uint8_t(Rcode::formerr);
      return answer_error(query, q, opt, out, outcome.rcode, false);
    case ParseStatus::notimp:
      outcome.rcode = uint8_t(Rcode::notimp);
      return answer_error(query, q, opt, out, outcome.rcode, true);
    case ParseStatus::badvers:
      // RFC 6891 §6.1.3: BADVERS goes in the extended RCODE of our OPT.
      outcome.rcode = uint8_t(Rcode::noerror);
      return answer_error(query, q, opt, out, kBadVers, true);
  }
  if (q.qclass != kClassIN) {
    outcome.rcode = uint8_t(Rcode::refused);
    return answer_error(query, q, opt, out, outcome.rcode, true);
  }

  // Closest encloser: the name itself, else its nearest existing ancestor (RFC 4592 §3.3.1).
  const Entry* e = nullptr;
  unsigned strip = 0;
  for (; strip <= q.label_count; ++strip) {
    const size_t at = strip < q.label_count ? q.label_offsets[strip] : q.qname_len - 1;
    if ((e = table.find(q.qname_lower + at, q.qname_len - at))) break;
  }
  if (!e) {
    outcome.rcode = uint8_t(Rcode::refused);
    return answer_error(query, q, opt, out, outcome.rcode, true);
  }
  if (q.qtype == rrtype::AXFR || q.qtype == rrtype::IXFR) {
    const bool apex = strip == 0 && table.zones()[e->zone]->apex.size() == q.qname_len;
    if (tcp && apex) {
      outcome.transfer_zone = e->zone;
      return 0;
    }
    // Over UDP, or for a name that is not a zone apex: no transfer (RFC 5936 §4.2 says TCP).
    outcome.rcode = uint8_t(apex ? Rcode::notimp : Rcode::notauth);
    return answer_error(query, q, opt, out, outcome.rcode, true);
  }
  uint32_t ti;
  if (strip == 0) {
    ti = table.pick(*e, q.qtype, tcp);
  } else if (e->wildcard >= 0) {
    ti = table.pick(table.entry(size_t(e->wildcard)), q.qtype, tcp);
  } else {
    ti = e->below;
  }
  if ((ti & kDynamicBit) && !answers.overlay) {
    outcome.rcode = uint8_t(Rcode::servfail);
    return answer_error(query, q, opt, out, outcome.rcode, true);
  }
  const Template& t = (ti & kDynamicBit) ? answers.overlay->pick(ti & ~kDynamicBit, scratch.pick)
                                         : table.tmpl(ti);

  size_t limit = tcp ? 65535 : kMinUdp;
  if (!tcp && q.has_edns)
    limit = std::clamp<size_t>(q.edns_size, kMinUdp, std::max<size_t>(opt.edns_size, kMinUdp));
  limit = std::min(limit, out.size());
  const size_t opt_len = q.has_edns ? kOptSize : 0;

  uint8_t* o = out.data();
  size_t n = start_response(query, q, o, uint16_t((t.aa ? kFlagAA : 0) | t.rcode), true);
  outcome.rcode = t.rcode;
  if (n + t.required_len + opt_len > limit) {
    // RFC 2181 §9: what must be there does not fit, so send the question only, with TC.
    o[2] |= kFlagTC >> 8;
    outcome.truncated = true;
    if (q.has_edns) {
      n += put_opt(o + n, opt, q, 0);
      put16(o + 10, 1);
    }
    return n;
  }
  size_t body = t.required_len;
  uint16_t ar = t.ar;
  for (size_t i = 0; i < t.cut_count; ++i) {
    const Template::Cut cut = t.cut(i);
    if (n + cut.end + opt_len > limit) break;
    body = cut.end;
    ar = cut.ar;
  }
  std::memcpy(o + n, t.data, body);
  if (const unsigned delta = unsigned(q.qname_len - t.base_len)) {
    for (size_t i = 0; i < t.shift_count; ++i) {
      const uint16_t s = t.shift(i);
      if (s >= body) break;
      put16(o + n + s, uint16_t(get16(o + n + s) + delta));
    }
  }
  n += body;
  put16(o + 6, t.an);
  put16(o + 8, t.ns);
  if (q.has_edns) {
    n += put_opt(o + n, opt, q, 0);
    ++ar;
  }
  put16(o + 10, ar);
  return n;
}

}  // namespace gslb::dns
