#include "guest.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "evtchn_message.h"

namespace simguest {

namespace {

constexpr std::chrono::milliseconds kRescan{50};

void write_file(const std::string& path, const std::string& content, off_t size) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "open " + path);
  bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size());
  if (ok && size > 0) ok = ::ftruncate(fd, size) == 0;
  int saved = errno;
  ::close(fd);
  if (!ok) throw std::system_error(saved, std::generic_category(), "write " + path);
}

}  // namespace

Guest::Guest(Options o) : opts_(std::move(o)) {}

void Guest::create() {
  const std::string& d = opts_.simxen_dir;
  for (const char* sub : {"", "/dom", "/ring", "/evtchn"}) ::mkdir((d + sub).c_str(), 0755);
  std::string id = std::to_string(opts_.domid);
  ring_.reset();
  write_file(d + "/ring/" + id, "", static_cast<off_t>(kPageSize));
  write_file(d + "/dom/" + id, "", 0);
  channel_ = std::make_unique<GuestChannel>(d, opts_.domid, opts_.port);
  ring_ = std::make_unique<RingPage>(d + "/ring/" + id);
  out_.clear();
  in_.clear();
  replies_.clear();
  events_.clear();
  watches_.clear();
  bad_stream_ = bad_indices_ = false;
}

RingPage& Guest::ring() {
  if (!ring_) throw GuestError("ENOTCONN");
  return *ring_;
}

void Guest::notify() {
  if (!channel_) throw GuestError("ENOTCONN");
  channel_->notify();
}

void Guest::pump() {
  RingPage& r = ring();
  if (!out_.empty()) {
    auto n = r.write_requests(out_.data(), out_.size());
    if (!n) {
      bad_indices_ = true;
    } else if (*n > 0) {
      out_.erase(0, *n);
      channel_->notify();
    }
  }
  char buf[kRingSize];
  for (;;) {
    auto n = r.read_responses(buf, sizeof buf);
    if (!n) {
      bad_indices_ = true;
      break;
    }
    if (*n == 0) break;
    in_.append(buf, *n);
    channel_->notify();
  }
  while (auto m = take_message(in_, &bad_stream_)) {
    if (m->type == kWatchEvent) {
      auto parts = split_nul(m->payload);
      events_.push_back({parts.size() > 0 ? parts[0] : "", parts.size() > 1 ? parts[1] : ""});
    } else {
      replies_[m->req_id] = std::move(*m);
    }
  }
}

bool Guest::wait_until(const std::function<bool()>& done, Clock::time_point until) {
  for (;;) {
    pump();
    if (done()) return true;
    if (bad_stream_) throw GuestError("EPROTO");
    if (bad_indices_) throw GuestError("EIO");
    if (Clock::now() >= until) return false;
    // A slice without a notification: ours may have been dropped (a full server.sock queue,
    // which Xen's pending bit would have coalesced instead), so kick the server again.
    if (!channel_->wait(until, kRescan)) channel_->notify();
  }
}

Message Guest::request(uint32_t type, const std::string& payload, uint32_t tx_id) {
  ring();
  uint32_t id = next_req_id_++;
  if (next_req_id_ == 0) next_req_id_ = 1;  // 0 is what watch events carry
  out_ += encode({type, id, tx_id, payload});
  if (!wait_until([&] { return replies_.count(id) != 0; }, deadline()))
    throw GuestError("ETIMEDOUT");
  Message m = std::move(replies_[id]);
  replies_.erase(id);
  return m;
}

Message Guest::watch(const std::string& path, const std::string& token) {
  Message m = request(4 /* WATCH */, path + '\0' + token + '\0');
  if (!m.is_error()) watches_.insert({path, token});
  return m;
}

Message Guest::unwatch(const std::string& path, const std::string& token) {
  Message m = request(5 /* UNWATCH */, path + '\0' + token + '\0');
  if (!m.is_error()) watches_.erase({path, token});
  return m;
}

std::optional<WatchEvent> Guest::next_event(std::chrono::milliseconds timeout) {
  ring();
  if (events_.empty() && !wait_until([&] { return !events_.empty(); }, Clock::now() + timeout))
    return std::nullopt;
  WatchEvent e = std::move(events_.front());
  events_.pop_front();
  return e;
}

void Guest::reconnect() {
  RingPage& r = ring();
  if (!(r.load(Field::kServerFeatures) & kFeatureReconnection)) throw GuestError("ENOTSUP");
  r.store(Field::kConnection, 1);
  channel_->notify();
  // From here on only `connection` matters: the server drops whatever is in flight.
  auto until = deadline();
  while (r.load(Field::kConnection) != 0) {
    if (Clock::now() >= until) throw GuestError("ETIMEDOUT");
    channel_->wait(until, kRescan);
  }
  out_.clear();
  in_.clear();
  replies_.clear();
  events_.clear();
  bad_stream_ = bad_indices_ = false;
  auto registered = std::move(watches_);
  watches_.clear();
  for (const auto& [path, token] : registered) {
    Message m = watch(path, token);
    if (m.is_error()) throw GuestError(m.error_name());
  }
}

size_t Guest::put_bytes(const std::string& bytes) {
  auto n = ring().write_requests(bytes.data(), bytes.size());
  if (!n) throw GuestError("EIO");
  channel_->notify();
  return *n;
}

void Guest::set_domain_file(DomainFile state) {
  std::string path = opts_.simxen_dir + "/dom/" + std::to_string(opts_.domid);
  if (state == DomainFile::kGone) {
    if (::unlink(path.c_str()) != 0 && errno != ENOENT)
      throw std::system_error(errno, std::generic_category(), "unlink " + path);
  } else {
    write_file(path, state == DomainFile::kShutdown ? "shutdown" : "", 0);
  }
  send_to_server(opts_.simxen_dir, simxen::kVirqDomid, simxen::kVirqDomExc);
}

}  // namespace simguest
