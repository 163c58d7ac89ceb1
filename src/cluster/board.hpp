// The shared verdict of several gslbd instances (vantage points): each node's vote per target,
// which nodes are live, and the `down_when` rule that turns the votes into "down" or not.
// Pure (no I/O, no clock): the etcd link feeds it what the watch sees; lives on the control loop.
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/config.hpp"

namespace gslb::cluster {

// A target's votes among the live nodes. A live node that has not voted on the target (it
// has not checked it yet) accuses nothing: it counts as a vote for up. Without that, the first
// node to check a target after a start would decide alone for everyone.
struct Tally {
  unsigned down = 0;    // live nodes voting down
  unsigned voted = 0;   // live nodes with a vote on it
  unsigned voters = 0;  // live nodes
  bool is_down = false; // what down_when makes of it; false when nobody voted
  // "2/3": down votes over live nodes, as events write it.
  std::string text() const;
};

class Board {
 public:
  Board(std::string self, DownWhen rule) : self_(std::move(self)), rule_(rule) { live_.insert(self_); }

  const std::string& self() const noexcept { return self_; }
  const DownWhen& rule() const noexcept { return rule_; }
  void set_rule(DownWhen rule) noexcept { rule_ = rule; }

  // A node's lease is seen (its key appeared) or gone (expired, deleted). This node is always
  // live. Return the targets whose tally may have changed.
  std::vector<std::string> node_up(const std::string& node);
  std::vector<std::string> node_down(const std::string& node);
  bool live(const std::string& node) const { return live_.count(node) != 0; }
  const std::set<std::string>& live_nodes() const noexcept { return live_; }

  // `node`'s vote on `target` (its own health verdict). Returns true when it changed.
  bool vote(const std::string& target, const std::string& node, bool down);
  bool unvote(const std::string& target, const std::string& node);

  // Everything but this node's own votes and liveness: etcd is gone, decide alone. Returns the
  // targets whose tally may have changed.
  std::vector<std::string> forget_others();

  Tally tally(const std::string& target) const;
  // Every vote on `target` by node (live or not: status shows both), in node order.
  const std::map<std::string, bool>& votes(const std::string& target) const;
  // Every target someone voted on.
  std::vector<std::string> targets() const;

 private:
  std::vector<std::string> targets_of(const std::string& node) const;

  std::string self_;
  DownWhen rule_;
  std::set<std::string> live_;
  std::map<std::string, std::map<std::string, bool>> votes_;  // target -> node -> down
};

}  // namespace gslb::cluster
