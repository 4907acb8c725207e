// dxsctl: the operator's tool for dxs, over the store's Ops and History APIs.
#include <getopt.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "dxsctl/channel.h"
#include "dxsctl/command.h"

namespace {

using dxs::ctl::Command;

// Every command family, in the order --help lists them.
struct Family {
  const char* title;
  const std::vector<Command>& (*commands)();
};
constexpr Family kFamilies[] = {
    {"Commands on the live tree", dxs::ctl::live_commands},
    {"Commands on the history", dxs::ctl::history_commands},
    {"Exporting the history", dxs::ctl::export_commands},
};

constexpr const char* kUsageHead =
    R"(Usage: dxsctl [--store ADDRESS [TLS OPTIONS]] [--json] COMMAND [ARGS]

Talks to dxs-store's Ops API (default unix:/run/dxs/ops.sock).
)";

constexpr const char* kOptionsHelp = R"(
Options:
  --store unix:PATH   the store's ops socket
  --store tcp:HOST:PORT
                      the store's TCP listener (mutual TLS: --cert, --key and --ca)
  --cert FILE         this client's certificate (PEM)
  --key FILE          its private key (PEM)
  --ca FILE           the CA the store's certificate must be signed by (PEM)
  --tls-name NAME     the name the store's certificate carries, if not HOST
  --json              machine-readable output
  --help              this text
)";

void usage(FILE* out) {
  std::fputs(kUsageHead, out);
  for (const Family& f : kFamilies) {
    std::fprintf(out, "\n%s:\n", f.title);
    for (const Command& c : f.commands()) {
      const std::string head = std::string(c.name) + " " + c.args;
      if (head.size() < 26) {
        std::fprintf(out, "  %-26s%s\n", head.c_str(), c.help);
      } else {  // a long synopsis on its own line
        std::fprintf(out, "  %s\n  %-26s%s\n", head.c_str(), "", c.help);
      }
    }
  }
  std::fputs(kOptionsHelp, out);
}

const Command* find_command(const std::string& name) {
  for (const Family& f : kFamilies) {
    for (const Command& c : f.commands()) {
      if (name == c.name) return &c;
    }
  }
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  dxs::ctl::ChannelOptions channel_options;
  bool json = false;
  static const option kOptions[] = {
      {"store", required_argument, nullptr, 's'},    {"cert", required_argument, nullptr, 'c'},
      {"key", required_argument, nullptr, 'k'},      {"ca", required_argument, nullptr, 'a'},
      {"tls-name", required_argument, nullptr, 'n'}, {"json", no_argument, nullptr, 'j'},
      {"help", no_argument, nullptr, 'h'},           {nullptr, 0, nullptr, 0},
  };
  int opt;
  while ((opt = getopt_long(argc, argv, "+", kOptions, nullptr)) != -1) {
    switch (opt) {
      case 's':
        channel_options.address = optarg;
        break;
      case 'c':
        channel_options.cert_file = optarg;
        break;
      case 'k':
        channel_options.key_file = optarg;
        break;
      case 'a':
        channel_options.ca_file = optarg;
        break;
      case 'n':
        channel_options.tls_name = optarg;
        break;
      case 'j':
        json = true;
        break;
      case 'h':
        usage(stdout);
        return 0;
      default:
        usage(stderr);
        return 2;
    }
  }
  if (optind >= argc) {
    usage(stderr);
    return 2;
  }
  const std::string name = argv[optind];
  const Command* command = find_command(name);
  if (!command) {
    std::fprintf(stderr, "dxsctl: unknown command '%s' (see --help)\n", name.c_str());
    return 2;
  }
  auto channel = dxs::ctl::open_channel(channel_options);
  if (!channel) {
    std::fprintf(stderr, "dxsctl: --store: %s\n", channel.status().to_string().c_str());
    return 2;
  }
  dxs::ctl::Ctl ctl;
  ctl.json = json;
  ctl.ops = dxs::pb::Ops::NewStub(*channel);
  ctl.history = dxs::pb::History::NewStub(*channel);
  const int rc = command->run(ctl, std::vector<std::string>(argv + optind + 1, argv + argc));
  if (rc == 2) {
    std::fprintf(stderr, "dxsctl: wrong arguments for '%s' (see --help)\n", name.c_str());
  }
  return rc;
}
