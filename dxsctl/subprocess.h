// The child processes dxsctl runs (git): one run to completion with its output captured,
// or one fed through a pipe to its standard input. Found on PATH; the child's standard
// error is dxsctl's, so git says itself what went wrong.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace dxs::ctl {

// Runs argv; its standard output, or an error (ECHILD: it exited non-zero or was killed).
Result<std::string> run_capture(const std::vector<std::string>& argv);

// A child reading what is written to it, until close().
class PipedChild {
 public:
  PipedChild() = default;
  PipedChild(const PipedChild&) = delete;
  PipedChild& operator=(const PipedChild&) = delete;
  ~PipedChild();  // an unfinished child is killed

  Status start(const std::vector<std::string>& argv);
  // Writes all of bytes; EPIPE if the child has gone.
  Status write(std::string_view bytes);
  // Closes its input and waits: OK if it exited 0.
  Status finish();
  // Ends it (SIGTERM) and waits: for an export given up halfway.
  void kill();

 private:
  pid_t pid_ = -1;
  int fd_ = -1;
};

}  // namespace dxs::ctl
