// Result<T>: a value or an Error, for failures that are expected (bad input, bad files).
// Errors carry the position they refer to, so every message can read `file:line:col: reason`.
#pragma once

#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace gslb::core {

// One problem found in an input. line/col are 1-based; 0 means "not known".
struct Error {
  std::string file;
  int line = 0;
  int col = 0;
  std::string message;

  // "file:line:col: message", dropping the parts that are not known.
  std::string to_string() const;
};

// Several errors at once: loaders collect every problem before reporting.
using Errors = std::vector<Error>;

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}            // NOLINT(google-explicit-constructor)
  Result(Error error) : v_(std::move(error)) {}        // NOLINT(google-explicit-constructor)

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

}  // namespace gslb::core
