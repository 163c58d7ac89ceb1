// The layout of one deployment's key space in etcd, and base64 (the JSON gateway's encoding of
// keys and values). Pure; used by the etcd link and its tests.
//
//   PREFIX/nodes/NODE                 ""            on NODE's lease: NODE is live
//   PREFIX/votes/NODE/ADDRESS/PROBE   "up"|"down"   on NODE's lease: NODE's own verdict
//   PREFIX/drains/ADDRESS             UNTIL (ms since the epoch, 0 = until undrained)
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gslb::cluster {

std::string base64(std::string_view bytes);
std::optional<std::string> unbase64(std::string_view text);

// "ADDRESS/PROBE": how a target is named in keys and on the Board.
std::string target_name(std::string_view address, std::string_view probe);

struct Key {
  enum class Kind { node, vote, drain, other };
  Kind kind = Kind::other;
  std::string node;    // node, vote
  std::string target;  // vote: ADDRESS/PROBE
  std::string address; // drain
};

class Keys {
 public:
  explicit Keys(std::string prefix) : prefix_(std::move(prefix)) {}
  std::string all() const { return prefix_ + "/"; }
  // The end of the range of every key under all(): its last byte plus one, as etcd ranges go.
  std::string all_end() const { return prefix_ + "0"; }
  std::string node(std::string_view node) const;
  std::string vote(std::string_view node, std::string_view target) const;
  std::string drain(std::string_view address) const;
  Key parse(std::string_view key) const;

 private:
  std::string prefix_;
};

}  // namespace gslb::cluster
