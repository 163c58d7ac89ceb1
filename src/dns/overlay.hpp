// The health-driven part of the answers. The AnswerTable (static zones) marks where A/AAAA
// answers are dynamic; an Overlay holds, for each such slot, the answers that health allows now,
// prebuilt as templates, and how to choose among them per query. The control loop builds a new
// Overlay on every health transition (cheap: only dynamic names) and workers swap to it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "core/address.hpp"
#include "dns/table.hpp"
#include "dns/wire.hpp"

namespace gslb::dns {

// What a dynamic (name, qtype) answers now, as the pool layer decides it.
struct DynamicAnswer {
  enum class Kind : uint8_t { addresses, nodata, servfail };
  // cycle: alternatives in turn, query after query (rotation); weighted: at random by weight.
  enum class Pick : uint8_t { cycle, weighted };
  struct Alternative {
    uint32_t weight = 1;
    std::vector<core::IpAddress> addresses;  // in answer order
  };
  Kind kind = Kind::nodata;
  Pick pick = Pick::cycle;
  uint32_t ttl = 10;
  std::vector<Alternative> alternatives;
};

// Per-worker state for per-query choices.
struct PickState {
  uint64_t rng = 0x9E3779B97F4A7C15ull;
  uint32_t turn = 0;
};

class Overlay {
 public:
  using Lookup = std::function<const DynamicAnswer*(std::string_view name, uint16_t qtype)>;
  // One choice per slot of `table`; a slot whose name `lookup` does not know answers NODATA.
  static std::shared_ptr<const Overlay> build(const AnswerTable& table, const Lookup& lookup);

  // The template for dynamic slot `slot` for this query.
  const Template& pick(uint32_t slot, PickState& st) const noexcept;
  size_t template_count() const noexcept { return templates_.size(); }

 private:
  struct Choice {
    DynamicAnswer::Pick pick = DynamicAnswer::Pick::cycle;
    uint32_t first = 0;  // templates_[first, first + count)
    uint32_t count = 0;
    std::vector<uint64_t> cumulative;  // running weight totals, for weighted picks
  };
  std::vector<Choice> choices_;
  TemplateSet templates_;
};

}  // namespace gslb::dns
