// lowbit::Error: the one exception type the library throws for bad input or bad use.
// Messages name what was wrong and where (file, tensor, offset); the CLI prints them
// and exits non-zero, never a stack trace.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace lowbit {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Builds a message from any streamable pieces and throws lowbit::Error.
template <typename... Parts>
[[noreturn]] void fail(Parts&&... parts) {
  std::ostringstream os;
  (os << ... << std::forward<Parts>(parts));
  throw Error(os.str());
}

}  // namespace lowbit
