// The Compiler behind dns::compile() (table.hpp), private to src/dns: compile.cpp holds the
// lookup rules (names, wildcards, cuts, CNAME chains, dynamic slots); compile_denial.cpp the
// negative answers and, in signed zones, their proofs (NSEC records and RRSIGs).
#pragma once

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "dns/encoder.hpp"
#include "dns/table.hpp"

namespace gslb::dns {

// Builds one AnswerTable. Lives only for the duration of compile().
class Compiler {
 public:
  Compiler(std::vector<std::shared_ptr<const Zone>> zones, const std::vector<std::string>& dynamic);
  std::shared_ptr<const AnswerTable> run(const std::atomic<bool>* cancel);

 private:
  // Where a name lives: the deepest served zone that holds it.
  struct Info {
    uint16_t zone;
    const Node* node;
    std::string_view cut;  // the delegation point at or above this name (a view of its node's
                           // name), empty if none
    uint32_t entry = 0;  // its index in AnswerTable::entries_, once run() numbers them
  };
  // What a lookup of a name finds (the runtime walk, done at compile time for CNAME chains).
  struct Found {
    enum Kind { exact, wildcard, nxdomain, referral, outside } kind = outside;
    const Info* info = nullptr;
  };
  using Rec = TemplateSpec::Rec;
  using Spec = TemplateSpec;
  // A template and its DO=1 form (the same index in an unsigned zone).
  struct Pair {
    uint32_t plain, dnssec;
  };
  static Entry::Slot slot(uint16_t qtype, Pair p) { return Entry::Slot{qtype, p.plain, p.dnssec}; }

  uint32_t add(const Spec& spec);
  // `spec` and, in a signed zone, `spec` with the RRSIGs of its answer and authority RRsets.
  // `proof`: NSEC records the DO=1 form adds to its authority section, with their RRSIGs.
  Pair both(const Spec& spec, uint16_t zone, uint8_t deny = 0, const std::vector<Rec>& proof = {});
  // The NSEC record whose owner precedes `name` in zone `zone`'s chain (canonical order):
  // the one that covers `name` when it does not exist. Null in an unsigned zone.
  std::optional<Rec> covering(uint16_t zone, std::string_view name);
  std::map<uint16_t, std::vector<std::pair<std::string, const Node*>>> chain_;  // by zone
  // The RRSIGs at `set`'s owner that cover it, as an RRset of their own; null if none.
  const RRset* sigs(const RRset* set);
  // `r` then its RRSIGs, if any.
  void push_signed(std::vector<Rec>& out, const Rec& r);
  void make_denial();
  Found lookup(std::string_view name) const;
  void add_targets(const RRset& set, std::vector<Rec>& out, std::set<std::string>& seen) const;
  Rec negative_soa(uint16_t zone) const;
  // NODATA at `node` (its NSEC proves the type absent; a node without one, an empty
  // non-terminal, gets the NSEC that covers it). `wildcard`: the node answers for names below
  // its parent, which need their own covering NSEC too.
  Pair nodata(uint16_t zone, const Node* node, bool wildcard = false);
  Pair nxdomain(uint16_t zone);
  Pair referral(std::string_view cut);
  Pair positive(const RRset& set, const std::string& base, uint16_t zone, uint8_t deny = 0) {
    return positive({&set, 1}, base, zone, deny);
  }
  // One answer holding RRsets of one type: the RRSIGs at a name are one RRset per covered
  // type (each with its TTL), answered together.
  Pair positive(std::span<const RRset> sets, const std::string& base, uint16_t zone, uint8_t deny = 0);
  void fill_cname(Entry& e, const Info& info, const std::string& base);
  uint32_t dynamic_slot(const std::string& name, uint16_t qtype, const std::string& base,
                        std::vector<Rec> chain, const std::string& owner, uint16_t zone);
  void fill(Entry& e, const Info& info);

  std::vector<std::shared_ptr<const Zone>> zones_;
  // Every name served, sorted: views of the nodes' names (zone storage, or synthetic_names_),
  // in one array (48 bytes a name; a std::map cost about twice that at 1M names).
  std::vector<std::pair<std::string_view, Info>> names_;
  // Names added for dynamic names while the constructor runs, merged into names_ at its end.
  std::map<std::string_view, Info, std::less<>> added_;
  Info* info_of(std::string_view name);
  const Info* info_of(std::string_view name) const {
    return const_cast<Compiler*>(this)->info_of(name);
  }
  std::set<std::string, std::less<>> dynamic_;
  std::deque<Node> synthetic_;  // dynamic names that the zone files do not hold, and their ENTs
  std::shared_ptr<AnswerTable> t_;
  std::map<uint16_t, uint32_t> nodata_;
  std::map<uint16_t, Pair> nxdomain_;
  std::map<std::string, Pair> referral_;
  std::vector<bool> signed_;  // by zone: it has a DNSKEY RRset at its apex
  std::unordered_map<const RRset*, const Node*> node_of_;  // in signed zones
  // Templates by a hash of their contents: many names give byte-identical answers (the same
  // MX, CNAME target or address under a pointer to the question), and each is stored once.
  // Open addressing over template index + 1 (0: empty), at most half full.
  std::vector<uint32_t> interned_;
  size_t interned_count_ = 0;
  std::vector<Entry::Slot> types_;  // the slots of the entry being filled
  uint8_t deny_ = 0;                // Template::deny for the entry being filled (a wildcard: 1)
  // A dynamic slot answers DO=1 queries from the same overlay slot.
  static Pair dynamic(uint32_t slot) { return Pair{slot, slot}; }
};

}  // namespace gslb::dns
