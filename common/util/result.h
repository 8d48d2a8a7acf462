// Result<T>: a value or an error text, for parsers of untrusted or operator input. Errors are
// expected outcomes there, not exceptions; callers attach the file:line.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace rampart::util {

struct Error {
    std::string message;
};

template <typename T>
class Result {
  public:
    Result(T value) : v_(std::move(value)) {}      // NOLINT(google-explicit-constructor)
    Result(Error error) : v_(std::move(error)) {}  // NOLINT(google-explicit-constructor)
    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    const T& value() const& { return std::get<0>(v_); }
    T& value() & { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    const T& operator*() const& { return value(); }
    const T* operator->() const { return &value(); }
    const std::string& error() const { return std::get<1>(v_).message; }

  private:
    std::variant<T, Error> v_;
};

inline Error err(std::string message) {
    return Error{std::move(message)};
}

}  // namespace rampart::util
