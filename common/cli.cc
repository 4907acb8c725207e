#include "common/cli.h"

#include <getopt.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace dxs {

Cli::Cli(std::string program, const char* usage, const Settings& settings)
    : program_(std::move(program)), usage_(usage), settings_(settings) {
  usage_ += "\nConfiguration keys (FILE, \"key = value\"; --print-config shows them all):\n";
  usage_ += settings.help_text();
}

void Cli::parse(int argc, char** argv, std::map<std::string, std::string>& values,
                const std::set<std::string>& flags) const {
  std::vector<option> options;
  for (const auto& [name, value] : values) {
    if (flags.count(name) == 0) {
      options.push_back(option{name.c_str(), required_argument, nullptr, 0});
    }
  }
  for (const std::string& flag : flags) {
    options.push_back(option{flag.c_str(), no_argument, nullptr, 0});
  }
  options.push_back(option{"help", no_argument, nullptr, 0});
  options.push_back(option{"print-config", no_argument, nullptr, 0});
  options.push_back(option{nullptr, 0, nullptr, 0});
  int index = 0;
  int opt;
  while ((opt = getopt_long(argc, argv, "", options.data(), &index)) != -1) {
    if (opt != 0) {
      std::fputs(usage_.c_str(), stderr);
      std::exit(2);
    }
    const std::string name = options[index].name;
    if (name == "help") {
      std::fputs(usage_.c_str(), stdout);
      std::exit(0);
    }
    if (name == "print-config") {
      std::fputs(settings_.example().c_str(), stdout);
      std::exit(0);
    }
    values[name] = flags.count(name) != 0 ? "yes" : optarg;
  }
  if (optind != argc) fail(std::string("unexpected argument '") + argv[optind] + "' (see --help)");
}

void Cli::fail(const std::string& message) const {
  std::fprintf(stderr, "%s: %s\n", program_.c_str(), message.c_str());
  std::exit(1);
}

Config Cli::load_config(const std::string& file,
                        const std::set<std::string>& skipped_prefixes) const {
  const std::set<std::string> keys = settings_.keys();
  constexpr const char* kDefault = "/etc/dxs/dxs.conf";
  if (!file.empty()) return must(Config::load(file, keys, skipped_prefixes), "config");
  if (access(kDefault, R_OK) == 0)
    return must(Config::load(kDefault, keys, skipped_prefixes), "config");
  return Config();
}

LogLevel Cli::log_level(const std::string& option, const Config& config) const {
  const std::string name = option.empty() ? config.get_string("log.level", "info") : option;
  LogLevel level = LogLevel::kInfo;
  if (!parse_log_level(name, level)) fail("bad log level '" + name + "'");
  return level;
}

}  // namespace dxs
