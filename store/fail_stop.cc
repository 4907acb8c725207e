#include "store/fail_stop.h"

#include <cstdio>
#include <cstdlib>

namespace dxs::store {

void fail_stop(std::string_view what) {
  // stderr reaches the journal under systemd; nothing else is trusted at this point.
  std::fprintf(stderr,
               "dxs-store: fatal: %.*s; stopping (the last commit on disk is recovered on "
               "restart)\n",
               static_cast<int>(what.size()), what.data());
  std::fflush(stderr);
  std::abort();
}

}  // namespace dxs::store
