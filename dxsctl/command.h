// The commands dxsctl runs: each family of commands (the live tree's, history's, the git
// export) lists its own in a table main() dispatches on and builds --help from.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "proto/history.grpc.pb.h"
#include "proto/ops.grpc.pb.h"

namespace dxs::ctl {

// What every command is given: the store's APIs on one channel, and the output format.
struct Ctl {
  std::unique_ptr<pb::Ops::Stub> ops;
  std::unique_ptr<pb::History::Stub> history;
  bool json = false;
};

struct Command {
  const char* name;
  const char* args;  // as --help shows them
  const char* help;
  // Returns the exit status: 0 done, 1 the store refused or failed, 2 wrong arguments
  // (main() then says so).
  int (*run)(Ctl& ctl, const std::vector<std::string>& args);
};

// The live tree's commands (live_commands.cc).
const std::vector<Command>& live_commands();
// History's commands (history_commands.cc).
const std::vector<Command>& history_commands();
// The git export (export_commands.cc).
const std::vector<Command>& export_commands();

}  // namespace dxs::ctl
