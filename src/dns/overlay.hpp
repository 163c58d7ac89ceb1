// The health-driven part of the answers. The AnswerTable (static zones) marks where A/AAAA
// answers are dynamic; an Overlay holds, for each such slot, the answers that health allows now,
// prebuilt as templates, and how to choose among them per query. The control loop builds a new
// Overlay from the previous one on every batch of health transitions, rebuilding only the names
// that changed, and workers swap to it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/address.hpp"
#include "dns/table.hpp"
#include "dns/wire.hpp"
#include "geo/map.hpp"

namespace gslb::dns {

// What a dynamic (name, qtype) answers now, as the pool layer decides it.
struct DynamicAnswer {
  enum class Kind : uint8_t { addresses, nodata, servfail };
  // cycle: alternatives in turn, query after query (rotation); weighted: at random by weight;
  // sticky: by a weighted rendezvous hash of the client's network, so a client keeps its
  // alternative while it stays in the answer and only the clients of a removed one move.
  enum class Pick : uint8_t { cycle, weighted, sticky };
  struct Alternative {
    uint32_t weight = 1;
    std::vector<core::IpAddress> addresses;  // in answer order
  };
  Kind kind = Kind::nodata;
  Pick pick = Pick::cycle;
  uint32_t ttl = 10;
  std::vector<Alternative> alternatives;
  // A mapped name: its map, and for each class of the map what that class's clients get;
  // queries then use `classes`, never the fields above.
  geo::MapPtr map;
  std::vector<DynamicAnswer> classes;
};

// Per-worker state for per-query choices.
struct PickState {
  uint64_t rng = 0x9E3779B97F4A7C15ull;
  uint32_t turn = 0;
};

// Who a sticky pick is for: a hash of the client's network (IPv4 /24, IPv6 /56, or the ECS
// prefix as sent); 0 when the query has no client address (a sticky pick is then weighted).
uint64_t client_network_key(const core::IpAddress& a, unsigned prefix) noexcept;

// The answers of every dynamic slot of one AnswerTable, immutable once built. Slots are held in
// chunks shared between successive overlays: update() copies only the chunks that hold a
// changed name, so a publish costs O(changed names) and a pointer per chunk, not O(all names).
class Overlay {
 public:
  using Lookup = std::function<const DynamicAnswer*(std::string_view name, uint16_t qtype)>;
  // One choice per slot of `table`; a slot whose name `lookup` does not know answers NODATA.
  static std::shared_ptr<const Overlay> build(const AnswerTable& table, const Lookup& lookup);
  // `prev` (built for the same `table`) with the slots of `names` (lower-cased wire) rebuilt;
  // everything else is shared with `prev`.
  static std::shared_ptr<const Overlay> update(const Overlay& prev, const AnswerTable& table,
                                               const Lookup& lookup,
                                               const std::vector<std::string_view>& names);

  // The map of slot `slot`'s name, or null when every client gets the same answer.
  const geo::Map* map(uint32_t slot) const noexcept;
  // Does slot `slot` pick by the client's network for class `cls` (then pick() wants a key)?
  bool sticky(uint32_t slot, uint16_t cls) const noexcept;
  // The template for dynamic slot `slot` for this query; `cls`: the client's class in the
  // slot's map (ignored for a slot without one).
  // `dnssec`: its signed form (DO=1), when the slot's zone is signed.
  const Template& pick(uint32_t slot, PickState& st, uint16_t cls = 0, uint64_t client_key = 0,
                       bool dnssec = false) const noexcept;
  size_t template_count() const noexcept;
  const AnswerTable* table() const noexcept { return table_; }

 private:
  static constexpr uint32_t kChunk = 64;
  // How one answer is chosen among its templates.
  struct Variant {
    DynamicAnswer::Pick pick = DynamicAnswer::Pick::cycle;
    uint32_t first = 0;  // the chunk's templates [first, first + count)
    uint32_t count = 0;
    std::vector<uint64_t> cumulative;  // running weight totals, for weighted picks
    std::vector<uint64_t> ids;         // sticky: each template's identity (its addresses' hash)
    // In a signed zone the signed forms follow, [first + count, first + 2 * count), each
    // alternative's with the RRSIGs made for it when it was compiled.
    bool dnssec = false;
    uint32_t total() const noexcept { return dnssec ? 2 * count : count; }
  };
  // A slot: one variant, or one per class of its map's clients.
  struct Choice {
    Variant all;
    geo::MapPtr map;
    std::vector<Variant> classes;
  };
  // kChunk slots (fewer in the last) and their templates in one byte block.
  struct Chunk {
    std::vector<Choice> choices;
    TemplateSet templates;
  };
  // One slot as make_choice builds it, before it joins a chunk.
  struct Built {
    Choice choice;
    std::vector<BuiltTemplate> templates;
  };
  // Which slots each dynamic name has (itself, and CNAME chains that end at it); made once per
  // table and shared by every overlay built on it. Its keys view the table's slot names: an
  // overlay is always held beside its table (daemon::Snapshot), never alone.
  using SlotIndex = std::unordered_map<std::string_view, std::vector<uint32_t>>;

  static Built make_choice(const AnswerTable& table, const DynamicSlot& slot,
                           const DynamicAnswer* ans);
  static Variant make_variant(const AnswerTable& table, const DynamicSlot& slot,
                              const DynamicAnswer* ans, std::vector<BuiltTemplate>& templates);
  static void add(Chunk& chunk, Built b);
  const Variant& variant(uint32_t slot, uint16_t cls) const noexcept;

  const AnswerTable* table_ = nullptr;
  std::shared_ptr<const SlotIndex> index_;
  std::vector<std::shared_ptr<const Chunk>> chunks_;
};

}  // namespace gslb::dns
