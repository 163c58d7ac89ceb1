#include "dns/handler.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace gslb::dns {

namespace {

constexpr size_t kOptSize = 11;
constexpr uint8_t kRcodeYxdomain = 6;  // RFC 2136 §2.2, for DNAME RFC 6672 §2.2
constexpr size_t kCookieOptSize = 4 + kClientCookieLen + kServerCookieLen;
constexpr uint16_t kFlagQR = 0x8000, kFlagAA = 0x0400, kFlagTC = 0x0200, kFlagRD = 0x0100,
                   kFlagCD = 0x0010, kOpcodeMask = 0x7800;

// The COOKIE option of our response (RFC 7873 §5.2): the client cookie echoed and a server
// cookie, fresh or the client's own when it is ours and still young.
struct CookieOut {
  bool send = false;
  bool valid = false;      // the query carried a valid server cookie of ours: exempt from RRL
  bool badcookie = false;  // answer BADCOOKIE instead of the question (require = true, UDP)
  uint8_t bytes[kClientCookieLen + kServerCookieLen] = {};
};

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

// The ECS option of our response (RFC 7871 §7.2.1): FAMILY, SOURCE PREFIX-LENGTH and ADDRESS
// as the query sent them, and our SCOPE PREFIX-LENGTH: 0 unless the answer depends on where
// the client is.
struct EcsOut {
  bool send = false;
  uint8_t scope = 0;
};

size_t ecs_size(const Query& q, const EcsOut& ecs) noexcept { return ecs.send ? 4u + q.ecs_len : 0; }

size_t opt_size(const Query& q, const CookieOut& ck, const EcsOut& ecs) noexcept {
  return kOptSize + (ck.send ? kCookieOptSize : 0) + ecs_size(q, ecs);
}

// RFC 6891 §6.1.3: our payload size in CLASS, the extended RCODE and DO in TTL (DO is copied,
// RFC 3225 §3); then our COOKIE option, if any.
size_t put_opt(uint8_t* p, std::span<const uint8_t> query, const HandlerOptions& opt,
               const Query& q, uint16_t rcode, const CookieOut& ck, const EcsOut& ecs) noexcept {
  p[0] = 0;
  put16(p + 1, rrtype::OPT);
  put16(p + 3, opt.edns_size);
  p[5] = uint8_t(rcode >> 4);
  p[6] = 0;
  p[7] = q.edns_do ? 0x80 : 0;
  p[8] = 0;
  const size_t total = opt_size(q, ck, ecs);
  put16(p + 9, uint16_t(total - kOptSize));
  uint8_t* o = p + kOptSize;
  if (ck.send) {
    put16(o, kOptionCookie);
    put16(o + 2, uint16_t(sizeof ck.bytes));
    std::memcpy(o + 4, ck.bytes, sizeof ck.bytes);
    o += kCookieOptSize;
  }
  if (ecs.send) {
    put16(o, kOptionEcs);
    put16(o + 2, q.ecs_len);
    std::memcpy(o + 4, query.data() + q.ecs_at, q.ecs_len);
    o[7] = ecs.scope;
  }
  return total;
}

CookieOut check_cookie(const Query& q, std::span<const uint8_t> query, const Client& c) noexcept {
  CookieOut ck;
  if (!c.guard || !c.address || !c.guard->config().cookies.enabled || q.cookie_len == 0) return ck;
  GuardStats& st = c.guard->stats();
  const uint8_t* cc = query.data() + q.cookie_at;
  const CookieSecrets& secrets = c.guard->secrets(c.now.unix);
  std::memcpy(ck.bytes, cc, kClientCookieLen);
  ck.send = true;
  const CookieCheck check =
      q.cookie_len > kClientCookieLen
          ? check_server_cookie(secrets, cc, cc + kClientCookieLen, q.cookie_len - kClientCookieLen,
                                *c.address, c.now.unix)
          : CookieCheck::invalid;
  if (check == CookieCheck::valid) {
    std::memcpy(ck.bytes + kClientCookieLen, cc + kClientCookieLen, kServerCookieLen);
  } else {
    make_server_cookie(secrets.current, cc, c.now.unix, *c.address, ck.bytes + kClientCookieLen);
  }
  CookieResult r;
  if (check != CookieCheck::invalid) {
    ck.valid = true;
    r = CookieResult::valid;
  } else if (c.guard->config().cookies.require && !c.tcp) {
    // BIND's require-server-cookie: a cookie-aware client without a valid server cookie gets
    // BADCOOKIE and a fresh cookie to retry with (RFC 7873 §5.2.3); over TCP it is answered.
    ck.badcookie = true;
    r = CookieResult::badcookie;
  } else {
    // RFC 7873 §5.2.3 lets the server answer as if there were only a client cookie.
    r = q.cookie_len == kClientCookieLen ? CookieResult::client_only : CookieResult::invalid;
  }
  guard_bump(st.cookies[size_t(r)]);
  return ck;
}

// Where the client is, for a mapped name: the ECS address when the query has one (RFC 7871
// §7.2.1), else the packet's source. SOURCE PREFIX-LENGTH 0 means the resolver tells nothing
// about its client (§7.1.2): the default, with scope 0. No address at all (tools): the default.
geo::Match locate(const geo::Map& map, const Query& q, const HandlerOptions& opt,
                  const Client& client) noexcept {
  if (opt.ecs && q.ecs_at != 0) {
    geo::Match m;
    if (q.ecs_source == 0) return m;
    core::IpAddress a;
    a.family = q.ecs_family == 1 ? core::IpAddress::Family::v4 : core::IpAddress::Family::v6;
    std::memcpy(a.bytes.data(), q.ecs_address, sizeof q.ecs_address);
    return map.lookup(a, q.ecs_source);
  }
  if (client.address) return map.lookup(*client.address);
  return geo::Match{};
}

// The client's network for sticky picks: the ECS prefix as sent, else the source's /24 (IPv4)
// or /56 (IPv6, a typical end site); 0 without an address.
uint64_t sticky_key(const Query& q, const HandlerOptions& opt, const Client& client) noexcept {
  if (opt.ecs && q.ecs_at != 0) {
    core::IpAddress a;
    a.family = q.ecs_family == 1 ? core::IpAddress::Family::v4 : core::IpAddress::Family::v6;
    std::memcpy(a.bytes.data(), q.ecs_address, sizeof q.ecs_address);
    return client_network_key(a, q.ecs_source);
  }
  if (!client.address) return 0;
  const core::IpAddress& a = *client.address;
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  const bool v4 = a.is_v4() || std::memcmp(a.bytes.data(), kMapped, 12) == 0;  // ::ffff:a.b.c.d
  return client_network_key(a, a.is_v4() ? 24 : v4 ? 96 + 24 : 56);
}

// One query's response being written: the pieces every path needs.
struct Writer {
  std::span<const uint8_t> query;
  const Query& q;
  const HandlerOptions& opt;
  std::span<uint8_t> out;
  const Client& client;
  const CookieOut& ck;
  const EcsOut& ecs;
  Outcome& outcome;

  // RRL (UDP only; TCP and clients with a valid server cookie are exempt).
  RrlAction limit(RrlKind kind, bool wildcard, const uint8_t* name, size_t name_len) noexcept {
    if (!client.guard || client.tcp || !client.address || ck.valid) return RrlAction::send;
    Rrl& rrl = client.guard->rrl();
    if (!rrl.enabled()) return RrlAction::send;
    const RrlAction a =
        rrl.account(*client.address, kind, q.qtype, wildcard, name, name_len, client.now.mono);
    GuardStats& st = client.guard->stats();
    if (a == RrlAction::drop) guard_bump(st.rrl_dropped);
    if (a == RrlAction::slip) guard_bump(st.rrl_slipped);
    if (a == RrlAction::log_only) guard_bump(st.rrl_log_only);
    outcome.rrl = a;
    return a == RrlAction::log_only ? RrlAction::send : a;
  }

  // Header, question, OPT: an error, or (with TC) an answer that does not fit or slipped.
  size_t header_only(uint16_t flags, uint16_t rcode, bool echo_question) noexcept {
    uint8_t* o = out.data();
    size_t n = start_response(query, q, o, uint16_t(flags | (rcode & 0xF)), echo_question);
    if (q.has_edns && echo_question) {
      n += put_opt(o + n, query, opt, q, rcode, ck, ecs);
      put16(o + 10, 1);
    }
    return n;
  }

  // An error response, rate limited as BIND's errors-per-second.
  size_t error(uint16_t rcode) noexcept {
    outcome.rcode = rcode == kBadVers ? uint8_t(Rcode::noerror) : uint8_t(rcode & 0xF);
    const RrlAction a = limit(RrlKind::error, false, nullptr, 0);
    if (a == RrlAction::drop) return 0;
    if (a == RrlAction::slip) outcome.truncated = true;
    return header_only(a == RrlAction::slip ? kFlagTC : 0, rcode, true);
  }
};

}  // namespace

namespace {

// The name at `at` in `m`, up to its root label or a compression pointer (never followed):
// a pointer to the whole question name (offset 12) is moved to `to`. Returns the offset past
// it, or 0 if it runs past `end`.
size_t move_question_pointer(uint8_t* m, size_t at, size_t end, uint16_t to) noexcept {
  while (at < end) {
    const uint8_t l = m[at];
    if ((l & 0xC0) == 0xC0) {
      if (at + 2 > end) return 0;
      if (get16(m + at) == (0xC000 | kHeaderSize)) put16(m + at, uint16_t(0xC000 | to));
      return at + 2;
    }
    at += 1 + l;
    if (l == 0) return at;
  }
  return 0;
}

// Copies the required part of `t` (an answer for a name `name_len` bytes long whose wire form
// is at `name_at` in `m`) to `m + at`: the records a DNAME's synthesised CNAME leads to. The
// template was encoded as if that name were the question: each compression pointer is moved
// onto the copy, and onto the name where the CNAME's RDATA holds it (RFC 1035 §4.1.4 allows a
// pointer to any earlier name). Names that may be compressed sit in the owner and, for the
// RFC 1035 types, in the RDATA (RFC 3597 §4), which is where the encoder compresses.
void copy_chased(const Template& t, uint8_t* m, size_t at, size_t name_at, size_t name_len) noexcept {
  std::memcpy(m + at, t.data, t.required_len);
  // The pointers listed in `shifts` (into the template's base name, a suffix of the name at
  // `name_at`, or into its own records) first: moved, none of them is 12 any more, so those
  // still 12 afterwards stand for the whole question name.
  const size_t body_was = kHeaderSize + t.base_len + 4;
  const size_t name_delta = name_len - t.base_len;
  for (size_t i = 0; i < t.shift_count; ++i) {
    const uint16_t s = t.shift(i);
    if (s >= t.required_len) break;
    const size_t v = get16(m + at + s) & 0x3FFF;
    const size_t moved = v >= body_was ? at + (v - body_was) : name_at + name_delta + (v - kHeaderSize);
    put16(m + at + s, uint16_t(0xC000 | moved));
  }
  const size_t end = at + t.required_len;
  size_t p = at;
  for (unsigned i = 0; p && i < unsigned(t.an) + t.ns + t.ar; ++i) {
    p = move_question_pointer(m, p, end, uint16_t(name_at));
    if (!p || p + 10 > end) break;
    const uint16_t type = get16(m + p);
    const size_t rd = p + 10, rd_end = rd + get16(m + p + 8);
    if (rd_end > end) break;
    size_t names_at = rd;
    int names = 0;
    switch (type) {
      case rrtype::NS: case 3: case 4: case rrtype::CNAME: case 7: case 8: case 9: case rrtype::PTR:
        names = 1;
        break;
      case rrtype::SOA: case 14:
        names = 2;
        break;
      case rrtype::MX:
        names = 1;
        names_at = rd + 2;
        break;
      default:
        break;
    }
    for (int k = 0; k < names && names_at; ++k) names_at = move_question_pointer(m, names_at, rd_end, uint16_t(name_at));
    p = rd_end;
  }
}

}  // namespace

size_t answer_error(std::span<const uint8_t> query, const Query& q, const HandlerOptions& opt,
                    std::span<uint8_t> out, uint16_t rcode, bool echo_question) noexcept {
  const Client none;
  const CookieOut no_cookie;
  const EcsOut no_ecs;
  Outcome unused;
  return Writer{query, q, opt, out, none, no_cookie, no_ecs, unused}.header_only(0, rcode,
                                                                                   echo_question);
}

size_t answer(const Answers& answers, const HandlerOptions& opt, std::span<const uint8_t> query,
              std::span<uint8_t> out, const Client& client, Scratch& scratch,
              Outcome& outcome) noexcept {
  outcome = Outcome{};
  const AnswerTable& table = *answers.table;
  Query& q = scratch.q;
  const ParseStatus status = parse_query(query, q);
  if (status == ParseStatus::drop) return 0;
  const bool cookies = client.guard && client.address && client.guard->config().cookies.enabled;
  if (status == ParseStatus::ok && q.cookie_malformed && cookies) {
    guard_bump(client.guard->stats().cookies[size_t(CookieResult::malformed)]);
    outcome.rcode = uint8_t(Rcode::formerr);
    return answer_error(query, q, opt, out, outcome.rcode, false);  // RFC 7873 §5.2.2
  }
  if (status == ParseStatus::formerr || (status == ParseStatus::ok && q.ecs_malformed && opt.ecs)) {
    outcome.rcode = uint8_t(Rcode::formerr);
    return answer_error(query, q, opt, out, outcome.rcode, false);  // RFC 7871 §7.2.1
  }
  const CookieOut ck = check_cookie(q, query, client);
  EcsOut ecs;
  ecs.send = opt.ecs && q.ecs_at != 0;
  Writer w{query, q, opt, out, client, ck, ecs, outcome};
  if (status == ParseStatus::notimp) return w.error(uint16_t(Rcode::notimp));
  // RFC 6891 §6.1.3: BADVERS goes in the extended RCODE of our OPT.
  if (status == ParseStatus::badvers) return w.error(kBadVers);
  if (ck.badcookie) return w.error(kBadCookie);
  if (q.qclass != kClassIN) return w.error(uint16_t(Rcode::refused));

  // Closest encloser: the name itself, else its nearest existing ancestor (RFC 4592 §3.3.1).
  const Entry* e = nullptr;
  unsigned strip = 0;
  size_t at = 0;
  for (; strip <= q.label_count; ++strip) {
    at = strip < q.label_count ? q.label_offsets[strip] : q.qname_len - 1;
    if ((e = table.find(q.qname_lower + at, q.qname_len - at))) break;
  }
  if (!e) return w.error(uint16_t(Rcode::refused));
  if (q.qtype == rrtype::AXFR || q.qtype == rrtype::IXFR) {
    const Zone& zone = *table.zones()[e->zone];
    const bool apex = strip == 0 && zone.apex.size() == q.qname_len;
    if (apex && client.tcp) {
      outcome.transfer_zone = e->zone;
      return 0;
    }
    // IXFR over UDP too (RFC 1995 §2), for a signed query (the caller checks the signature)
    // or an address on the list; the caller answers in one message. Anyone else is refused
    // here, rate limited as any error: UDP sources can be forged.
    if (apex && q.qtype == rrtype::IXFR) {
      bool listed = false;
      for (const auto& p : zone.allow_transfer) listed = listed || (client.address && p.contains(*client.address));
      if (!q.has_tsig && !listed) return w.error(uint16_t(Rcode::refused));
      outcome.transfer_zone = e->zone;
      return 0;
    }
    // AXFR over UDP, or a name that is not a zone apex: no transfer (RFC 5936 §4.2 says TCP).
    return w.error(uint16_t(apex ? Rcode::notimp : Rcode::notauth));
  }
  uint32_t ti;
  const bool wildcard = strip != 0 && e->wildcard >= 0;
  const bool dnssec = q.has_edns && q.edns_do;  // RFC 3225 §3
  if (strip == 0) {
    ti = table.pick(*e, q.qtype, client.tcp, dnssec);
  } else if (wildcard) {
    ti = table.pick(table.entry(size_t(e->wildcard)), q.qtype, client.tcp, dnssec);
  } else {
    ti = dnssec ? e->below_do : e->below;
  }
  if ((ti & kDynamicBit) && !answers.overlay) return w.error(uint16_t(Rcode::servfail));
  const geo::Map* map = (ti & kDynamicBit) ? answers.overlay->map(ti & ~kDynamicBit) : nullptr;
  geo::Match match;
  if (map) match = locate(*map, q, opt, client);
  const uint32_t slot = ti & ~kDynamicBit;
  const Template& t =
      (ti & kDynamicBit)
          ? answers.overlay->pick(slot, scratch.pick, match.cls,
                                  answers.overlay->sticky(slot, match.cls) ? sticky_key(q, opt, client) : 0,
                                  dnssec)
          : table.tmpl(ti);
  // RFC 6672 §2.2: below a DNAME, the CNAME it synthesises follows the DNAME (TTL the DNAME's),
  // or YXDOMAIN when the new name would be longer than 255 bytes. `at` bytes of the query name
  // stand before the DNAME's owner.
  const bool dname = strip != 0 && !wildcard && e->dname;
  size_t synth_len = 0;
  uint8_t rcode = t.rcode;
  if (dname) {
    const std::string_view target = e->dname->rdata.front().wire;
    if (at + target.size() > kMaxName) rcode = kRcodeYxdomain;
    else synth_len = 2 + 10 + at + target.size();
  }
  // RFC 6672 §3.1: the synthesised CNAME is followed like any CNAME (RFC 1034 §4.3.2 step 3a)
  // when its target is a name we hold: its answer (records, NODATA's SOA) follows the CNAME.
  // One step (the target's answer holds any CNAME chain compiled there): a target below another
  // DNAME, one a wildcard answers, a missing name of a signed zone (its NSECs depend on the
  // name) and a mapped dynamic name (its answer depends on the client's ECS scope) are not
  // followed; nor are qtypes CNAME and ANY.
  const Template* chased = nullptr;
  if (synth_len && t.ns == 0 && t.ar == 0 && t.cut_count == 0 && t.deny == 0 &&
      q.qtype != rrtype::CNAME && q.qtype != rrtype::ANY) {
    const std::string_view target = e->dname->rdata.front().wire;
    std::memcpy(scratch.name, q.qname_lower, at);
    for (size_t i = 0; i < target.size(); ++i)
      scratch.name[at + i] = uint8_t(std::tolower(static_cast<unsigned char>(target[i])));
    // The target's closest encloser, as for the question (a name that does not exist gets the
    // NXDOMAIN of its zone, RFC 6604 §2: the RCODE is the last name's).
    const size_t target_len = at + target.size();
    const Entry* te = nullptr;
    size_t off = 0;
    while (!(te = table.find(scratch.name + off, target_len - off)) && scratch.name[off] != 0)
      off += 1 + scratch.name[off];
    if (te && !te->dname && (off == 0 || te->wildcard < 0)) {
      const uint32_t cti = off == 0 ? table.pick(*te, q.qtype, client.tcp, dnssec)
                                    : (dnssec ? te->below_do : te->below);
      const Template* ct = nullptr;
      if (!(cti & kDynamicBit)) {
        ct = &table.tmpl(cti);
      } else if (answers.overlay && !answers.overlay->map(cti & ~kDynamicBit)) {
        const uint32_t cslot = cti & ~kDynamicBit;
        ct = &answers.overlay->pick(cslot, scratch.pick, 0,
                                    answers.overlay->sticky(cslot, 0) ? sticky_key(q, opt, client) : 0,
                                    dnssec);
      }
      // A target below a delegation gets its referral after the CNAME, as NSD answers; AA
      // stays the DNAME's (RFC 1035 §4.1.1: it speaks for the name that matches the question).
      if (ct && (ct->rcode == 0 || ct->rcode == uint8_t(Rcode::nxdomain)) && ct->deny == 0)
        chased = ct;
    }
  }
  if (chased) rcode = chased->rcode;
  const uint16_t flags = uint16_t((t.aa ? kFlagAA : 0) | rcode);
  outcome.rcode = rcode;
  if (map) {
    map->count(match);
    outcome.mapped = true;
    outcome.map_rule = match.rule;
    // A negative answer (NODATA: no address of this family, or all_down = empty) or SERVFAIL
    // is the same for every client here: scope 0, so resolvers cache it once.
    if (t.rcode == 0 && t.an != 0) ecs.scope = match.scope;
  }
  outcome.ecs_scope = ecs.send ? ecs.scope : 0;

  // The response's identity for RRL, as BIND builds it: its kind and the closest encloser
  // (the name itself for a hit; the parent of the wildcard; the delegation point; the deepest
  // existing ancestor of a name that does not exist).
  RrlKind kind = RrlKind::answer;
  if (rcode == uint8_t(Rcode::nxdomain)) kind = RrlKind::nxdomain;
  else if (rcode != 0) kind = RrlKind::error;
  else if (t.an == 0) kind = t.aa ? RrlKind::nodata : RrlKind::referral;
  const RrlAction limited = w.limit(kind, wildcard, q.qname_lower + at, q.qname_len - at);
  if (limited == RrlAction::drop) return 0;

  size_t limit = client.tcp ? 65535 : kMinUdp;
  if (!client.tcp && q.has_edns)
    limit = std::clamp<size_t>(q.edns_size, kMinUdp, std::max<size_t>(opt.edns_size, kMinUdp));
  limit = std::min(limit, out.size());
  const size_t opt_len = q.has_edns ? opt_size(q, ck, ecs) : 0;

  // The NSECs this name needs (Template::deny): the one covering it and, for NXDOMAIN, the one
  // covering its closest encloser's wildcard, unless that is the same record.
  int32_t covers[2] = {-1, -1};
  size_t cover_len = 0;
  if (t.deny) {
    covers[0] = table.cover(e->zone, {reinterpret_cast<const char*>(scratch.key),
                                      canonical_key(q.qname_lower, q.qname_len, scratch.key)});
    if (t.deny == 2 && e->name.size() + 2 <= kMaxName) {
      scratch.name[0] = 1;
      scratch.name[1] = '*';
      std::memcpy(scratch.name + 2, e->name.data(), e->name.size());
      const int32_t c = table.cover(e->zone, {reinterpret_cast<const char*>(scratch.key),
                                              canonical_key(scratch.name, e->name.size() + 2, scratch.key)});
      if (c != covers[0]) covers[1] = c;
    }
    for (int32_t c : covers)
      if (c >= 0) cover_len += table.denial(e->zone).blobs[size_t(c)].size();
  }

  if (limited == RrlAction::slip ||
      kHeaderSize + (q.question_end - kHeaderSize) + t.required_len + cover_len + synth_len +
              (chased ? chased->required_len : 0) + opt_len > limit) {
    // Slipped (BIND's slip: TC=1 and no records, so a real client retries over TCP), or
    // RFC 2181 §9: what must be there does not fit, so send the question only, with TC.
    outcome.truncated = true;
    return w.header_only(uint16_t(flags | kFlagTC), 0, true);
  }
  uint8_t* o = out.data();
  size_t n = start_response(query, q, o, flags, true);
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
  uint16_t an = t.an;
  if (synth_len) {
    // Owner: the question name (offset 12); RDATA: the query name's labels above the DNAME's
    // owner, as sent, then the DNAME's target.
    const std::string_view target = e->dname->rdata.front().wire;
    put16(o + n, 0xC000 | kHeaderSize);
    put16(o + n + 2, rrtype::CNAME);
    put16(o + n + 4, kClassIN);
    put32(o + n + 6, e->dname->ttl);
    put16(o + n + 10, uint16_t(at + target.size()));
    std::memcpy(o + n + 12, query.data() + kHeaderSize, at);
    std::memcpy(o + n + 12 + at, target.data(), target.size());
    const size_t cname_target_at = n + 12;
    n += synth_len;
    ++an;
    if (chased) {
      copy_chased(*chased, o, n, cname_target_at, at + target.size());
      n += chased->required_len;
      an = uint16_t(an + chased->an);
      ar = uint16_t(ar + chased->ar);
    }
  }
  uint16_t ns = uint16_t(t.ns + (chased ? chased->ns : 0));
  for (int32_t c : covers) {
    if (c < 0) continue;
    const std::string& blob = table.denial(e->zone).blobs[size_t(c)];
    std::memcpy(o + n, blob.data(), blob.size());
    n += blob.size();
    ns = uint16_t(ns + table.denial(e->zone).counts[size_t(c)]);
  }
  put16(o + 6, an);
  put16(o + 8, ns);
  if (q.has_edns) {
    n += put_opt(o + n, query, opt, q, 0, ck, ecs);
    ++ar;
  }
  put16(o + 10, ar);
  return n;
}

}  // namespace gslb::dns
