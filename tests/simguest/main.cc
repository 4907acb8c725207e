// dxs-simguest: a simulated guest driven line by line on stdin (tests/lib/simguest.py).
// Every command prints exactly one line and flushes; `--help` lists the commands.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <system_error>
#include <vector>

#include "dom0_client.h"
#include "guest.h"
#include "wire.h"

namespace {

using namespace simguest;
using std::chrono::milliseconds;

const char kHelp[] =
    R"(usage: dxs-simguest --simxen-dir DIR --socket SOCK --domid N [--port P] [--timeout S]

A simulated Xen guest on the simxen machine DIR (docs/simxen.md). It reads one command per
line on stdin and prints exactly one line per command: "OK [result]", "ERR <ERRNAME>"
(an error reply, or a transport failure: ETIMEDOUT, EPROTO, EIO, ENOTCONN, ENOTSUP),
"EVENT <path> <token>" or "TIMEOUT". Values and payloads are escaped: \0 \n \\ \xHH.
P (default 1) is the guest's unbound event-channel port; SOCK is the daemon's Unix socket,
used as dom0 for introduce, release and dom0.

Domain:     create                 dom/N, a zero ring/N, the guest socket
            introduce [GFN]        dom0 INTRODUCE N GFN(default 1) P
            release                dom0 RELEASE N
            shutdown | die         dom/N := "shutdown" | removed; then VIRQ_DOM_EXC
Requests:   read P | mkdir P | rm P | getperms P | dir P (children, space separated)
            write P VALUE          VALUE is the rest of the line
            setperms P PERM...     e.g. n1 r0
            watch P T | unwatch P T
            txstart (OK <id>) | txend T|F
            tx ID COMMAND...       COMMAND with transaction id ID
            domain-path [D]        GET_DOMAIN_PATH of D (default N)
            raw TYPE PAYLOAD       TYPE is a name (READ) or number; OK <escaped reply payload>
            churn FROM N DIR       for i in FROM..FROM+N-1: watch DIR/n<i> t<i>, unwatch
                                   it, write DIR/value i+1
            dom0 TYPE PAYLOAD      the same, over the Unix socket as dom0
Events:     event [SECONDS]        EVENT <path> <token> | TIMEOUT (default 5 s)
Ring:       reset                  reconnect (when the server advertises it)
            features               OK <server_features>
            indices                OK req_cons req_prod rsp_cons rsp_prod connection error
            poke FIELD VALUE       store a u32: req_cons req_prod rsp_cons rsp_prod
                                   server_features connection error evtchn_port
            put-bytes HEX          raw bytes into req[] at req_prod; OK <bytes written>
            notify                 {N, P} to the server
Bench:      bench-write COUNT PATH | bench-read COUNT PATH   OK <elapsed microseconds>
                                   a # in PATH becomes the request's number (0, 1, ...);
                                   the first error reply stops it: ERR <ERRNAME> after <i>
Errors other than the above: ERR EFAIL <escaped message> (e.g. dom0 socket unreachable).
)";

struct Reply {
  std::string line;
};

Reply ok(const std::string& s = "") {
  return {s.empty() ? "OK" : "OK " + s};
}
Reply err(const std::string& name) {
  return {"ERR " + name};
}

std::string next_word(std::string& rest) {
  size_t b = rest.find_first_not_of(' ');
  if (b == std::string::npos) {
    rest.clear();
    return "";
  }
  size_t e = rest.find(' ', b);
  std::string w = rest.substr(b, e == std::string::npos ? std::string::npos : e - b);
  rest = e == std::string::npos ? "" : rest.substr(e + 1);
  return w;
}

std::vector<std::string> words(std::string rest) {
  std::vector<std::string> out;
  for (std::string w = next_word(rest); !w.empty(); w = next_word(rest)) out.push_back(w);
  return out;
}

class Cli {
 public:
  Cli(Guest::Options o, std::string socket) : guest_(std::move(o)), socket_(std::move(socket)) {}

  Reply run(std::string line, uint32_t tx = 0) {
    std::string cmd = next_word(line);
    try {
      return dispatch(cmd, line, tx);
    } catch (const GuestError& e) {
      return err(e.name());
    } catch (const std::exception& e) {
      return err(std::string("EFAIL ") + escape(e.what()));
    }
  }

 private:
  // Replies whose payload is one string (maybe with its NUL): the string, escaped.
  static Reply text(const Message& m) {
    if (m.is_error()) return err(m.error_name());
    std::string s = m.payload;
    if (!s.empty() && s.back() == '\0') s.pop_back();
    return ok(escape(s));
  }

  static Reply list(const Message& m) {
    if (m.is_error()) return err(m.error_name());
    std::string s;
    for (const auto& w : split_nul(m.payload)) s += (s.empty() ? "" : " ") + escape(w);
    return ok(s);
  }

  static std::string strings(const std::vector<std::string>& v, size_t from) {
    std::string p;
    for (size_t i = from; i < v.size(); ++i) p += v[i] + '\0';
    return p;
  }

  Dom0Client& dom0() {
    if (!dom0_) dom0_ = std::make_unique<Dom0Client>(socket_);
    return *dom0_;
  }

  Message dom0_request(uint32_t type, const std::string& payload) {
    return dom0().request(type, payload, guest_.options().timeout);
  }

  Reply dispatch(const std::string& cmd, std::string rest, uint32_t tx) {
    auto a = words(rest);
    auto need = [&](size_t n) {
      if (a.size() < n) throw GuestError("EINVAL");
    };
    const std::string dom = std::to_string(guest_.options().domid);
    if (cmd == "create") {
      guest_.create();
      return ok();
    }
    if (cmd == "introduce") {
      std::string gfn = a.empty() ? "1" : a[0];
      return text(
          dom0_request(8, dom + '\0' + gfn + '\0' + std::to_string(guest_.options().port) + '\0'));
    }
    if (cmd == "release") return text(dom0_request(9, dom + '\0'));
    if (cmd == "shutdown" || cmd == "die") {
      guest_.set_domain_file(cmd == "die" ? DomainFile::kGone : DomainFile::kShutdown);
      return ok();
    }
    if (cmd == "read") {
      need(1);
      return text(guest_.request(2, a[0] + '\0', tx));
    }
    if (cmd == "write") {
      std::string path = next_word(rest);
      if (path.empty()) throw GuestError("EINVAL");
      auto value = unescape(rest);
      if (!value) throw GuestError("EINVAL");
      return text(guest_.request(11, path + '\0' + *value, tx));
    }
    if (cmd == "mkdir" || cmd == "rm" || cmd == "getperms" || cmd == "dir") {
      need(1);
      uint32_t type = cmd == "mkdir" ? 12 : cmd == "rm" ? 13 : cmd == "getperms" ? 3 : 1;
      Message m = guest_.request(type, a[0] + '\0', tx);
      return type == 3 || type == 1 ? list(m) : text(m);
    }
    if (cmd == "setperms") {
      need(2);
      return text(guest_.request(14, strings(a, 0), tx));
    }
    if (cmd == "watch" || cmd == "unwatch") {
      need(2);
      return text(cmd == "watch" ? guest_.watch(a[0], a[1]) : guest_.unwatch(a[0], a[1]));
    }
    if (cmd == "txstart") return text(guest_.request(6, std::string(1, '\0'), tx));
    if (cmd == "txend") {
      need(1);
      return text(guest_.request(7, a[0] + '\0', tx));
    }
    if (cmd == "tx") {
      std::string id = next_word(rest);
      char* end = nullptr;
      unsigned long v = std::strtoul(id.c_str(), &end, 10);
      if (id.empty() || *end != '\0') throw GuestError("EINVAL");
      return run(rest, static_cast<uint32_t>(v));
    }
    if (cmd == "domain-path") return text(guest_.request(10, (a.empty() ? dom : a[0]) + '\0'));
    if (cmd == "raw" || cmd == "dom0") {
      std::string type_name = next_word(rest);
      auto type = type_by_name(type_name);
      auto payload = unescape(rest);
      if (!type || !payload) throw GuestError("EINVAL");
      Message m =
          cmd == "raw" ? guest_.request(*type, *payload, tx) : dom0_request(*type, *payload);
      return m.is_error() ? err(m.error_name()) : ok(escape(m.payload));
    }
    if (cmd == "event") {
      double secs = a.empty() ? 5.0 : std::atof(a[0].c_str());
      auto e = guest_.next_event(milliseconds(static_cast<long>(secs * 1000)));
      if (!e) return {"TIMEOUT"};
      return {"EVENT " + escape(e->path) + " " + escape(e->token)};
    }
    if (cmd == "reset") {
      guest_.reconnect();
      return ok();
    }
    if (cmd == "features") return ok(std::to_string(guest_.ring().load(Field::kServerFeatures)));
    if (cmd == "indices") {
      RingPage& r = guest_.ring();
      std::string s;
      for (Field f : {Field::kReqCons, Field::kReqProd, Field::kRspCons, Field::kRspProd,
                      Field::kConnection, Field::kError})
        s += (s.empty() ? "" : " ") + std::to_string(r.load(f));
      return ok(s);
    }
    if (cmd == "poke") {
      need(2);
      auto f = field_by_name(a[0]);
      if (!f) throw GuestError("EINVAL");
      guest_.ring().store(*f, static_cast<uint32_t>(std::strtoul(a[1].c_str(), nullptr, 0)));
      return ok();
    }
    if (cmd == "put-bytes") {
      need(1);
      std::string bytes;
      if (a[0].size() % 2) throw GuestError("EINVAL");
      for (size_t i = 0; i < a[0].size(); i += 2) {
        auto b = unescape("\\x" + a[0].substr(i, 2));
        if (!b) throw GuestError("EINVAL");
        bytes += *b;
      }
      return ok(std::to_string(guest_.put_bytes(bytes)));
    }
    if (cmd == "notify") {
      guest_.notify();
      return ok();
    }
    if (cmd == "churn") {
      // Not idempotent: a WATCH applied twice answers EEXIST, an UNWATCH ENOENT; the
      // count shows a write lost.
      need(3);
      const long from = std::atol(a[0].c_str());
      const long n = std::atol(a[1].c_str());
      for (long i = from; i < from + n; ++i) {
        const std::string watch =
            a[2] + "/n" + std::to_string(i) + '\0' + "t" + std::to_string(i) + '\0';
        for (const auto& [type, payload] : {std::pair<uint32_t, std::string>{4, watch},
                                            {5, watch},
                                            {11, a[2] + "/value" + '\0' + std::to_string(i + 1)}}) {
          Message m = guest_.request(type, payload, tx);
          if (m.is_error()) return err(m.error_name() + " at " + std::to_string(i));
        }
      }
      return ok();
    }
    if (cmd == "bench-write" || cmd == "bench-read") {
      need(2);
      long n = std::atol(a[0].c_str());
      auto t0 = std::chrono::steady_clock::now();
      for (long i = 0; i < n; ++i) {
        std::string path = a[1];
        if (size_t hash = path.find('#'); hash != std::string::npos)
          path.replace(hash, 1, std::to_string(i));
        Message m = cmd == "bench-write" ? guest_.request(11, path + '\0' + std::to_string(i), tx)
                                         : guest_.request(2, path + '\0', tx);
        if (m.is_error()) return err(m.error_name() + " after " + std::to_string(i));
      }
      auto us = std::chrono::duration_cast<std::chrono::microseconds>(
          std::chrono::steady_clock::now() - t0);
      return ok(std::to_string(us.count()));
    }
    throw GuestError("EINVAL");
  }

  Guest guest_;
  std::string socket_;
  std::unique_ptr<Dom0Client> dom0_;
};

int usage(const char* why) {
  std::fprintf(stderr, "dxs-simguest: %s\n%s", why, kHelp);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Guest::Options o;
  std::string socket;
  bool have_domid = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kHelp, stdout);
      return 0;
    }
    if (i + 1 >= argc) return usage(("missing value for " + arg).c_str());
    std::string v = argv[++i];
    if (arg == "--simxen-dir") {
      o.simxen_dir = v;
    } else if (arg == "--socket") {
      socket = v;
    } else if (arg == "--domid") {
      o.domid = static_cast<uint32_t>(std::strtoul(v.c_str(), nullptr, 10));
      have_domid = true;
    } else if (arg == "--port") {
      o.port = static_cast<uint32_t>(std::strtoul(v.c_str(), nullptr, 10));
    } else if (arg == "--timeout") {
      o.timeout = milliseconds(static_cast<long>(std::atof(v.c_str()) * 1000));
    } else {
      return usage(("unknown option " + arg).c_str());
    }
  }
  if (o.simxen_dir.empty() || socket.empty() || !have_domid)
    return usage("--simxen-dir, --socket and --domid are required");
  Cli cli(o, socket);
  std::string line;
  while (std::getline(std::cin, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(' ') == std::string::npos) continue;
    std::cout << cli.run(line).line << '\n' << std::flush;
  }
  return 0;
}
