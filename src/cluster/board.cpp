#include "cluster/board.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace gslb::cluster {

std::string Tally::text() const { return fmt::format("{}/{}", down, voters); }

std::vector<std::string> Board::targets_of(const std::string& node) const {
  std::vector<std::string> out;
  for (const auto& [target, by_node] : votes_)
    if (by_node.count(node)) out.push_back(target);
  return out;
}

std::vector<std::string> Board::node_up(const std::string& node) {
  if (!live_.insert(node).second) return {};
  return targets_of(node);
}

std::vector<std::string> Board::node_down(const std::string& node) {
  if (node == self_ || !live_.erase(node)) return {};
  return targets_of(node);
}

bool Board::vote(const std::string& target, const std::string& node, bool down) {
  auto [it, fresh] = votes_[target].try_emplace(node, down);
  if (fresh) return true;
  if (it->second == down) return false;
  it->second = down;
  return true;
}

bool Board::unvote(const std::string& target, const std::string& node) {
  auto t = votes_.find(target);
  if (t == votes_.end() || !t->second.erase(node)) return false;
  if (t->second.empty()) votes_.erase(t);
  return true;
}

std::vector<std::string> Board::forget_others() {
  std::vector<std::string> touched;
  for (auto t = votes_.begin(); t != votes_.end();) {
    auto& by_node = t->second;
    const size_t before = by_node.size();
    for (auto v = by_node.begin(); v != by_node.end();)
      v = v->first == self_ ? std::next(v) : by_node.erase(v);
    if (by_node.size() != before) touched.push_back(t->first);
    t = by_node.empty() ? votes_.erase(t) : std::next(t);
  }
  live_ = {self_};
  return touched;
}

Tally Board::tally(const std::string& target) const {
  Tally t;
  t.voters = unsigned(live_.size());
  auto it = votes_.find(target);
  if (it == votes_.end()) return t;
  for (const auto& [node, down] : it->second) {
    if (!live_.count(node)) continue;
    ++t.voted;
    t.down += down;
  }
  t.voters = unsigned(live_.size());
  t.is_down = t.voted > 0 && t.down >= rule_.needed(t.voters);
  return t;
}

const std::map<std::string, bool>& Board::votes(const std::string& target) const {
  static const std::map<std::string, bool> none;
  auto it = votes_.find(target);
  return it == votes_.end() ? none : it->second;
}

std::vector<std::string> Board::targets() const {
  std::vector<std::string> out;
  for (const auto& [target, by_node] : votes_) out.push_back(target);
  return out;
}

}  // namespace gslb::cluster
