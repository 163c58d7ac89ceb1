// Drains on a manual clock, the state file's text, and followers that leave mid-call.
#include <catch2/catch.hpp>

#include "daemon/drains.hpp"
#include "daemon/event_log.hpp"

using namespace gslb;

TEST_CASE("timed drains end at their time, open-ended ones never") {
  daemon::DrainBook book;
  const int64_t t0 = 1'800'000'000'000;
  book.set("127.0.0.2", 0);
  book.set("127.0.0.3", t0 + 30'000);
  book.set("2001:db8::1", t0 + 10'000);
  CHECK(book.next_expiry() == t0 + 10'000);
  CHECK(book.take_expired(t0 + 9'000).empty());
  CHECK(book.take_expired(t0 + 9'996) == std::vector<std::string>{"2001:db8::1"});  // 5 ms slack
  CHECK(book.next_expiry() == t0 + 30'000);
  CHECK(book.take_expired(t0 + 30'000) == std::vector<std::string>{"127.0.0.3"});
  CHECK_FALSE(book.next_expiry());
  CHECK(book.take_expired(t0 + 1'000'000'000).empty());
  CHECK(book.contains("127.0.0.2"));
  CHECK(book.remove("127.0.0.2"));
  CHECK_FALSE(book.remove("127.0.0.2"));
}

TEST_CASE("the state file: written and read back; expired and broken lines dropped") {
  daemon::DrainBook book;
  book.set("127.0.0.2", 0);
  book.set("127.0.0.3", 5000);
  CHECK(book.to_text() == "127.0.0.2 0\n127.0.0.3 5000\n");
  auto back = daemon::DrainBook::from_text(book.to_text(), 1000);
  CHECK(back.all() == book.all());
  auto later = daemon::DrainBook::from_text(book.to_text(), 6000);  // the timed one is over
  CHECK(later.all() == std::map<std::string, daemon::Drain>{{"127.0.0.2", {0, "", ""}}});
  auto messy = daemon::DrainBook::from_text("127.0.0.4 12x\n\n 7\n127.0.0.5 -3\n127.0.0.6 0", 0);
  CHECK(messy.all() == std::map<std::string, daemon::Drain>{{"127.0.0.6", {0, "", ""}}});
}

TEST_CASE("a drain keeps who made it and why across the state file") {
  daemon::DrainBook book;
  book.set("127.0.0.2", 0, "alice", "kernel upgrade, \"rack 4\"");
  book.set("127.0.0.3", 5000, "root", "");
  CHECK(book.to_text() == "127.0.0.2 0 by=alice reason=\"kernel upgrade, \\\"rack 4\\\"\"\n"
                          "127.0.0.3 5000 by=root\n");
  auto back = daemon::DrainBook::from_text(book.to_text(), 1000);
  CHECK(back.all() == book.all());
  // An older gslbd's file: address and time only.
  auto old = daemon::DrainBook::from_text("127.0.0.9 0\n", 0);
  CHECK(old.all() == std::map<std::string, daemon::Drain>{{"127.0.0.9", {0, "", ""}}});
}

TEST_CASE("a follower may leave, or make another leave, from inside its own call") {
  daemon::Followers f;
  std::vector<std::string> seen;
  uint64_t second = 0;
  const uint64_t first = f.add([&](const std::string& t) {
    seen.push_back("1:" + t);
    f.remove(first);   // leaves
    f.remove(second);  // and drops the next one before its turn
  });
  second = f.add([&](const std::string& t) { seen.push_back("2:" + t); });
  f.add([&](const std::string& t) { seen.push_back("3:" + t); });
  f.tell("a");
  f.tell("b");
  CHECK(seen == std::vector<std::string>{"1:a", "3:a", "3:b"});
}

TEST_CASE("the event log keeps the last lines, stamped") {
  daemon::EventLog log(2);
  std::vector<std::string> streamed;
  log.followers().add([&](const std::string& l) { streamed.push_back(l); });
  for (const char* e : {"event=a", "event=b", "event=c"}) log.emit(core::Level::debug, e);
  REQUIRE(log.recent().size() == 2);
  CHECK(log.recent().front().line.ends_with(" event=b"));
  CHECK(log.recent().back().line.ends_with(" event=c"));
  CHECK(log.recent().back().line.size() == std::string("2026-11-28T04:50:02Z event=c").size());
  CHECK(streamed.size() == 3);
}

TEST_CASE("events as JSON: typed fields, quoted values read back, the remark as a note") {
  daemon::EventLog log(4);
  std::vector<std::string> streamed;
  log.json_followers().add([&](const std::string& l) { streamed.push_back(l); });
  log.emit(core::Level::warning,
           "event=address-down pool=hangzhou address=127.0.0.2 probe=gw reason=\"connect \\\"x\\\" refused\" "
           "fails=2/2 count=12 zero=0 lead=007");
  log.emit(core::Level::err, "event=reload-failed errors=3 (the previous configuration keeps serving)");
  REQUIRE(streamed.size() == 2);
  const std::string& j = log.recent().front().json;
  CHECK(j == streamed[0]);
  CHECK(j.starts_with("{\"time\":\"20"));
  CHECK(j.find(",\"level\":\"warning\",\"event\":\"address-down\",\"pool\":\"hangzhou\","
               "\"address\":\"127.0.0.2\",\"probe\":\"gw\",\"reason\":\"connect \\\"x\\\" refused\","
               "\"fails\":\"2/2\",\"count\":12,\"zero\":0,\"lead\":\"007\"}") != std::string::npos);
  CHECK(streamed[1].ends_with(",\"level\":\"err\",\"event\":\"reload-failed\",\"errors\":3,"
                              "\"note\":\"(the previous configuration keeps serving)\"}"));
}
