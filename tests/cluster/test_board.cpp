// The shared verdict: down_when over the live nodes' votes, nodes coming and going, and falling
// back to this node's own votes when etcd is gone.
#include <catch2/catch.hpp>

#include "cluster/board.hpp"
#include "cluster/keys.hpp"

using namespace gslb::cluster;

static DownWhen rule(const char* text) {
  auto r = DownWhen::parse(text);
  REQUIRE(r.ok());
  return *r;
}

TEST_CASE("down_when: votes needed out of the voters") {
  CHECK(rule("any").needed(3) == 1);
  CHECK(rule("majority").needed(1) == 1);
  CHECK(rule("majority").needed(2) == 2);
  CHECK(rule("majority").needed(3) == 2);
  CHECK(rule("majority").needed(4) == 3);
  CHECK(rule("all").needed(3) == 3);
  CHECK(rule("2").needed(3) == 2);
  CHECK(rule("2").needed(1) == 1);  // a lone survivor can still fail over
  CHECK(rule("50%").needed(3) == 2);
  CHECK(rule("50%").needed(4) == 2);
  CHECK(rule("20%").needed(5) == 1);
  CHECK(rule("80%").needed(5) == 4);
  CHECK(rule("100%").needed(5) == 5);
  CHECK(rule("1%").needed(2) == 1);
  CHECK(rule("50%").to_string() == "50%");
  CHECK(rule("3").to_string() == "3");
  for (const char* bad : {"", "0", "most", "0%", "101%", "-1", "2.5", "%", "50 %"})
    CHECK_FALSE(DownWhen::parse(bad).ok());
}

TEST_CASE("majority of three: one node alone does not take an address down") {
  Board b("a", rule("majority"));
  b.node_up("b");
  b.node_up("c");
  CHECK_FALSE(b.tally("t").is_down);  // nobody voted: no shared verdict
  CHECK(b.tally("t").voted == 0);
  CHECK(b.tally("t").voters == 3);
  CHECK(b.vote("t", "a", false));
  CHECK(b.vote("t", "b", false));
  CHECK(b.vote("t", "c", true));
  CHECK_FALSE(b.vote("t", "c", true));  // the same vote again is no change
  CHECK_FALSE(b.tally("t").is_down);
  CHECK(b.tally("t").text() == "1/3");
  CHECK(b.vote("t", "b", true));
  CHECK(b.tally("t").is_down);
  CHECK(b.tally("t").text() == "2/3");
}

TEST_CASE("a live node that has not voted yet counts as up: the first to check does not decide") {
  Board b("a", rule("majority"));
  b.vote("t", "a", true);
  CHECK(b.tally("t").is_down);  // alone
  b.node_up("b");
  b.node_up("c");
  CHECK(b.tally("t").text() == "1/3");
  CHECK(b.tally("t").voted == 1);
  CHECK_FALSE(b.tally("t").is_down);
  b.vote("t", "b", true);
  CHECK(b.tally("t").is_down);
}

TEST_CASE("a node whose lease expired is not counted; its return counts it again") {
  Board b("a", rule("majority"));
  b.node_up("b");
  b.node_up("c");
  b.vote("t", "a", true);
  b.vote("t", "b", false);
  b.vote("t", "c", false);
  CHECK_FALSE(b.tally("t").is_down);
  CHECK(b.node_down("c") == std::vector<std::string>{"t"});
  CHECK(b.tally("t").text() == "1/2");
  CHECK_FALSE(b.tally("t").is_down);  // 1 of 2 is not more than half
  CHECK(b.node_down("b") == std::vector<std::string>{"t"});
  CHECK(b.tally("t").is_down);  // alone, this node decides
  CHECK(b.tally("t").text() == "1/1");
  CHECK(b.node_up("b") == std::vector<std::string>{"t"});
  CHECK(b.node_up("b").empty());  // already live
  CHECK_FALSE(b.tally("t").is_down);
  CHECK(b.node_down("a").empty());  // this node is always live
  CHECK(b.live("a"));
}

TEST_CASE("etcd gone: only this node's own votes remain") {
  Board b("a", rule("any"));
  b.node_up("b");
  b.vote("t1", "b", true);
  b.vote("t2", "a", false);
  b.vote("t2", "b", false);
  b.vote("t3", "a", false);
  CHECK(b.tally("t1").is_down);
  auto touched = b.forget_others();
  CHECK(touched == std::vector<std::string>{"t1", "t2"});
  CHECK_FALSE(b.tally("t1").is_down);
  CHECK(b.tally("t1").voted == 0);
  CHECK(b.tally("t2").text() == "0/1");
  CHECK(b.live_nodes() == std::set<std::string>{"a"});
  CHECK(b.targets() == std::vector<std::string>{"t2", "t3"});
}

TEST_CASE("unvote removes a vote; votes() lists live and expired nodes") {
  Board b("a", rule("all"));
  b.node_up("b");
  b.vote("t", "a", true);
  b.vote("t", "b", true);
  b.vote("t", "c", false);  // c's lease is not seen (yet): its vote waits
  CHECK(b.tally("t").text() == "2/2");
  CHECK(b.tally("t").is_down);
  b.node_up("c");
  CHECK_FALSE(b.tally("t").is_down);
  CHECK(b.votes("t").size() == 3);
  CHECK(b.unvote("t", "c"));
  CHECK_FALSE(b.unvote("t", "c"));
  CHECK_FALSE(b.tally("t").is_down);  // c is live and accuses nothing
  b.node_down("c");
  CHECK(b.tally("t").is_down);
  CHECK(b.votes("nothing").empty());
}

TEST_CASE("base64 as the etcd gateway writes it (RFC 4648 vectors)") {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
  for (auto [plain, coded] : vectors) {
    CHECK(base64(plain) == coded);
    CHECK(unbase64(coded) == std::optional<std::string>(plain));
  }
  CHECK(unbase64(base64(std::string("\x00\xff\x80", 3))) == std::string("\x00\xff\x80", 3));
  CHECK_FALSE(unbase64("Zm9v!"));
  CHECK_FALSE(unbase64("Z"));
}

TEST_CASE("the key space: nodes, votes, drains; anything else is ignored") {
  Keys k("/gslbd/prod");
  CHECK(k.node("hz-1") == "/gslbd/prod/nodes/hz-1");
  CHECK(k.vote("hz-1", target_name("2001:db8::1", "gw")) == "/gslbd/prod/votes/hz-1/2001:db8::1/gw");
  CHECK(k.all() == "/gslbd/prod/");
  CHECK(k.all_end() == "/gslbd/prod0");
  auto v = k.parse("/gslbd/prod/votes/hz-1/2001:db8::1/gw");
  CHECK(v.kind == Key::Kind::vote);
  CHECK(v.node == "hz-1");
  CHECK(v.target == "2001:db8::1/gw");
  auto n = k.parse(k.node("sh-2"));
  CHECK(n.kind == Key::Kind::node);
  CHECK(n.node == "sh-2");
  auto d = k.parse(k.drain("127.0.0.2"));
  CHECK(d.kind == Key::Kind::drain);
  CHECK(d.address == "127.0.0.2");
  for (const char* other : {"/gslbd/prodx/nodes/a", "/gslbd/prod/nodes/", "/gslbd/prod/votes/a/b",
                            "/gslbd/prod/votes/a/b/c/d", "/gslbd/prod/votes//b/c", "/gslbd/prod",
                            "/gslbd/prod/other/x", "/gslbd/prod/nodes/a/b"})
    CHECK(k.parse(other).kind == Key::Kind::other);
}
