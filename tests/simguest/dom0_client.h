// dom0's side of the simulated machine: a client of the daemon's Unix socket (the path
// XENSTORED_PATH names) that sends one request at a time and returns its reply, skipping any
// watch event, with a deadline. The guest CLI uses it for INTRODUCE, RELEASE and passthrough.
#pragma once

#include <chrono>
#include <string>

#include "wire.h"

namespace simguest {

class Dom0Client {
 public:
  // Connects; throws std::system_error.
  explicit Dom0Client(const std::string& socket_path);
  ~Dom0Client();
  Dom0Client(const Dom0Client&) = delete;
  Dom0Client& operator=(const Dom0Client&) = delete;

  // Throws std::runtime_error on timeout or a closed connection.
  Message request(uint32_t type, const std::string& payload, std::chrono::milliseconds timeout,
                  uint32_t tx_id = 0);

 private:
  int fd_;
  uint32_t next_req_id_ = 1;
  std::string in_;
};

}  // namespace simguest
