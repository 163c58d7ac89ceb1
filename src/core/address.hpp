// IP addresses and socket endpoints as plain values (no I/O).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

struct sockaddr_storage;

namespace gslb::core {

// An IPv4 or IPv6 address in network byte order.
struct IpAddress {
  enum class Family : uint8_t { v4, v6 };
  Family family = Family::v4;
  std::array<uint8_t, 16> bytes{};  // v4 uses the first 4

  static std::optional<IpAddress> parse(std::string_view text);
  bool is_v4() const noexcept { return family == Family::v4; }
  size_t size() const noexcept { return is_v4() ? 4 : 16; }
  std::string to_string() const;
  bool operator==(const IpAddress&) const = default;
};

// An address and a port, written "127.0.0.1:53" or "[::1]:53".
struct Endpoint {
  IpAddress address;
  uint16_t port = 0;

  static std::optional<Endpoint> parse(std::string_view text);
  std::string to_string() const;
  // Fills a sockaddr_in/sockaddr_in6; returns its length.
  unsigned to_sockaddr(sockaddr_storage& out) const;
  bool operator==(const Endpoint&) const = default;
};

// A CIDR prefix ("192.0.2.0/24", "::1"), for ACLs.
struct Prefix {
  IpAddress address;
  unsigned length = 0;
  static std::optional<Prefix> parse(std::string_view text);
  bool contains(const IpAddress& a) const;
  bool operator==(const Prefix&) const = default;
};

}  // namespace gslb::core
