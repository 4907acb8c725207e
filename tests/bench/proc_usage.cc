#include "proc_usage.h"

#include <dirent.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace bench {

std::optional<uint64_t> process_cpu_ns(pid_t pid) {
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  DIR* dir = opendir(tasks.c_str());
  if (!dir) return std::nullopt;
  uint64_t total = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    FILE* f = fopen((tasks + '/' + e->d_name + "/schedstat").c_str(), "re");
    if (!f) continue;  // the thread exited meanwhile
    unsigned long long ns = 0;
    if (fscanf(f, "%llu", &ns) == 1) total += ns;
    fclose(f);
  }
  closedir(dir);
  return total;
}

std::optional<uint64_t> process_rss_kb(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10);
  }
  return std::nullopt;
}

}  // namespace bench
