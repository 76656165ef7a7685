// A one-line progress bar on stderr, drawn only when stderr is a terminal (and not
// --quiet), so logs and CI output stay clean.
#pragma once
#include <cstdio>
#include <string>
#include <unistd.h>

namespace lowbit::cli {

class Progress {
 public:
  Progress(std::size_t total, bool quiet) : total_(total), on_(!quiet && isatty(STDERR_FILENO)) {}
  ~Progress() {
    if (on_ && drawn_) std::fprintf(stderr, "\r\033[K");
  }
  void step(const std::string& label) {
    ++done_;
    if (!on_) return;
    const int width = 30;
    const int fill = total_ ? int(width * done_ / total_) : width;
    std::fprintf(stderr, "\r\033[K[%.*s%*s] %zu/%zu %.50s", fill, "##############################", width - fill, "",
                 done_, total_, label.c_str());
    std::fflush(stderr);
    drawn_ = true;
  }

 private:
  std::size_t total_, done_ = 0;
  bool on_, drawn_ = false;
};

}  // namespace lowbit::cli
