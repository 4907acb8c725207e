#include "frontend/socket_transport.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>

#include "common/unix_socket.h"
#include "frontend/request_identity.h"
#include "frontend/socket_outbox.h"

namespace dxs::frontend {

namespace {

constexpr size_t kReadChunk = 64 * 1024;
constexpr uint32_t kClientEvents = EPOLLRDHUP | EPOLLET;

// Reads move the peek offset on; consuming moves it back by what was consumed. A socket
// that comes back from the fd store has its offset where the killed frontend left it.
bool reset_peek_offset(int fd) {
  int zero = 0;
  return setsockopt(fd, SOL_SOCKET, SO_PEEK_OFF, &zero, sizeof zero) == 0;
}

// Who is at the other end of a client socket: the kernel's credentials and, while the
// process lives, its command name (it may have exited, or be another user's under
// hidepid: then none).
ClientIdentity socket_identity(int fd) {
  PeerCredentials peer;
  if (!peer_credentials(fd, peer)) return ClientIdentity::socket_peer(-1, static_cast<uid_t>(-1));
  std::string comm;
  if (peer.pid > 0) {
    const int f = ::open(fmt::format("/proc/{}/comm", peer.pid).c_str(), O_RDONLY | O_CLOEXEC);
    if (f >= 0) {
      char buf[64];
      const ssize_t n = ::read(f, buf, sizeof buf);
      ::close(f);
      if (n > 0) comm.assign(buf, static_cast<size_t>(n));
      if (!comm.empty() && comm.back() == '\n') comm.pop_back();
    }
  }
  return ClientIdentity::socket_peer(peer.pid, peer.uid, std::move(comm));
}

}  // namespace

class SocketTransport::Conn final : public ClientConnection,
                                    public FdHandler,
                                    public std::enable_shared_from_this<Conn> {
 public:
  Conn(SocketTransport& t, int fd, const ClientIdentity& who)
      : t_(t), fd_(fd), who_(who), outbox_(fd) {}
  ~Conn() override { ::close(fd_); }

  void on_fd_ready(uint32_t events) override { t_.handle(*this, events); }

  // Queues bytes; the loop writes everything queued for a client at once when it has
  // delivered the store's whole response (flush_pending()), so the replies and events
  // of one batch reach a client together.
  void send(Outgoing&& o) override {
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      outbox_.queue(o.bytes, o.consume, o.event_id);
      if (flush_scheduled_) return;
      flush_scheduled_ = true;
    }
    t_.schedule_flush(shared_from_this());
  }

  void resume_reading() override { t_.request_resume(shared_from_this()); }

  void close(std::string_view reason) override {
    uint64_t acked = 0;
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      close_reason_ = std::string(reason);
      // What the store answered before closing goes out first, as far as the socket
      // takes it now (replies wait for the loop's flush_pending()).
      deliver_locked(acked);
      ::shutdown(fd_, SHUT_RDWR);
    }
    if (acked != 0) t_.dispatch_.on_event_written(id_, acked);
  }

  std::string describe() const override {
    return fmt::format("socket client {} (pid {}, uid {})", id_, who_.pid, who_.uid);
  }

  // Loop thread: writes what is queued, then applies the backlog policy to the rest.
  void flush() {
    uint64_t acked = 0;
    {
      std::lock_guard lock(mu_);
      flush_scheduled_ = false;
      deliver_locked(acked);
      const size_t backlog = outbox_.backlog();
      if (backlog > t_.options_.max_queued_bytes && !broken_) {
        t_.log_.warn("{} is not reading: {} bytes queued; dropping it", describe(), backlog);
        broken_ = true;
        ::shutdown(fd_, SHUT_RDWR);
      } else if (!broken_) {
        // A client that does not read its replies gets no more requests read until it
        // has read half of its backlog: the backlog stays near pause_bytes (events are
        // paced by the store).
        const bool pause = output_paused_ ? backlog > t_.options_.pause_bytes / 2
                                          : backlog > t_.options_.pause_bytes;
        const bool want_out = backlog > 0;
        if (want_out != want_out_ || pause != output_paused_) {
          want_out_ = want_out;
          output_paused_ = pause;
          update_epoll_locked();
        }
      }
    }
    if (acked != 0) t_.dispatch_.on_event_written(id_, acked);
  }

  // The outbox's pipe, new (accepted) or left by a killed frontend (resumed), in the fd
  // store under the connection's name.
  void open_outbox() {
    std::lock_guard lock(mu_);
    open_outbox_locked();
  }
  // It goes on in the fd store under the same name.
  void adopt_outbox(int fd) {
    std::lock_guard lock(mu_);
    if (Status s = outbox_.adopt_pipe(fd); !s) {
      t_.log_.warn("{}: the outbox it had is unusable ({}); a new one", describe(), s.to_string());
      t_.fd_store_.remove(outbox_fd_name(id_));
      open_outbox_locked();
    }
  }

  // The dispatch's in-flight limit (the output backlog pauses reading on its own).
  void set_dispatch_paused(bool paused) {
    std::lock_guard lock(mu_);
    dispatch_paused_ = paused;
    update_epoll_locked();
  }

  void mark_closed() {
    std::lock_guard lock(mu_);
    closed_ = true;
  }

  bool broken() {
    std::lock_guard lock(mu_);
    return broken_;
  }

  std::string close_reason() {
    std::lock_guard lock(mu_);
    return close_reason_;
  }

  int fd() const { return fd_; }
  const ClientIdentity& identity() const { return who_; }
  uint64_t id() const { return id_; }
  void set_id(uint64_t id) { id_ = id; }
  bool reading() {
    std::lock_guard lock(mu_);
    return reading_locked();
  }

  wire::MessageAssembler assembler;
  std::string input;  // bytes read and not yet framed
  size_t input_off = 0;

 private:
  // REQUIRES: mu_.
  void deliver_locked(uint64_t& acked) {
    if (broken_) return;
    if (outbox_.deliver(acked) == SocketOutbox::Progress::kBroken) broken_ = true;  // dropped
  }

  // REQUIRES: mu_.
  void open_outbox_locked() {
    if (!t_.fd_store_.enabled()) return;  // the socket dies with this frontend anyway
    if (Status s = outbox_.open_pipe(); !s) {
      t_.log_.warn("{}: no outbox pipe ({}); a restart may lose or repeat a reply", describe(),
                   s.to_string());
      return;
    }
    t_.fd_store_.store(outbox_fd_name(id_), outbox_.pipe_fd());
  }

  bool reading_locked() const { return !dispatch_paused_ && !output_paused_; }

  void update_epoll_locked() {
    if (closed_) return;
    const uint32_t events =
        (reading_locked() ? EPOLLIN : 0u) | (want_out_ ? EPOLLOUT : 0u) | kClientEvents;
    [[maybe_unused]] Status s = t_.poller_.modify(fd_, events, *this);
  }

  SocketTransport& t_;
  const int fd_;
  uint64_t id_ = 0;
  const ClientIdentity who_;
  std::mutex mu_;
  SocketOutbox outbox_;
  bool want_out_ = false;
  bool flush_scheduled_ = false;
  bool dispatch_paused_ = false;
  bool output_paused_ = false;
  bool closed_ = false;
  bool broken_ = false;
  std::string close_reason_;
};

SocketTransport::SocketTransport(Poller& poller, Dispatch& dispatch, FdStore& fd_store, Logger& log,
                                 SocketTransportOptions options)
    : poller_(poller),
      dispatch_(dispatch),
      fd_store_(fd_store),
      log_(log),
      options_(std::move(options)) {}

SocketTransport::~SocketTransport() {
  for (auto& [ptr, c] : conns_) c->mark_closed();
  conns_.clear();
  for (auto& [conn, fd] : inherited_.connections) ::close(fd);
  if (listen_fd_ >= 0) {
    poller_.remove(listen_fd_, *this);
    ::close(listen_fd_);
  }
}

void SocketTransport::inherit(InheritedFds fds) {
  inherited_ = std::move(fds);
}

Status SocketTransport::listen() {
  if (inherited_.listen_fd >= 0) {
    listen_fd_ = inherited_.listen_fd;
    inherited_.listen_fd = -1;
    const int flags = fcntl(listen_fd_, F_GETFL);
    if (flags < 0 || fcntl(listen_fd_, F_SETFL, flags | O_NONBLOCK) < 0) {
      return Status::error(errno, "the inherited listening socket");
    }
    log_.info("serving Xenstore clients on the listening socket systemd passed ({})",
              options_.path);
  } else {
    Result<int> fd = listen_unix(options_.path, options_.mode, 1024);
    if (!fd) return fd.status();
    listen_fd_ = *fd;
    // Kept by systemd, it outlives this frontend: clients that connect before the next
    // one listens wait in its backlog instead of being refused.
    fd_store_.store(kListenFdName, listen_fd_);
    log_.info("serving Xenstore clients on {}", options_.path);
  }
  if (Status s = poller_.add(listen_fd_, EPOLLIN, *this); !s) return s;
  return Status::ok();
}

std::shared_ptr<SocketTransport::Conn> SocketTransport::add_client(int fd,
                                                                   const ClientIdentity& who) {
  if (!reset_peek_offset(fd)) {
    log_.warn("SO_PEEK_OFF on a client socket: {}", std::strerror(errno));
  }
  auto c = std::make_shared<Conn>(*this, fd, who);
  [[maybe_unused]] Status s = poller_.add(fd, EPOLLIN | kClientEvents, *c);
  conns_[c.get()] = c;
  return c;
}

bool SocketTransport::resume_socket(uint64_t conn) {
  auto it = inherited_.connections.find(conn);
  if (it == inherited_.connections.end()) return false;
  const int fd = it->second;
  inherited_.connections.erase(it);
  const int flags = fcntl(fd, F_GETFL);
  if (flags >= 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  std::shared_ptr<Conn> c = add_client(fd, socket_identity(fd));
  c->set_id(conn);
  dispatch_.adopt(conn, c, c->identity());
  resume_head(*c);
  log_.debug("{} resumed", c->describe());
  return true;
}

std::vector<uint64_t> SocketTransport::release_unclaimed(uint64_t last_opened) {
  std::vector<uint64_t> unopened;
  for (auto& [conn, fd] : inherited_.connections) {
    if (conn <= last_opened) {
      log_.info("socket of connection {}, which the store no longer knows, closed", conn);
      fd_store_.remove(connection_fd_name(conn));
      ::close(fd);
      continue;
    }
    // Accepted and stored, and the frontend killed before the store opened it: nothing
    // of it was read (a request is consumed only once answered), so it starts afresh,
    // under its id and in the fd store as it was.
    const int flags = fcntl(fd, F_GETFL);
    if (flags >= 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    std::shared_ptr<Conn> c = add_client(fd, socket_identity(fd));
    c->set_id(conn);
    dispatch_.adopt(conn, c, c->identity());
    if (auto out = inherited_.outboxes.find(conn); out != inherited_.outboxes.end()) {
      c->adopt_outbox(out->second);  // empty: nothing was answered
      inherited_.outboxes.erase(out);
    } else {
      c->open_outbox();
    }
    log_.info("{}: accepted by the previous frontend, never opened at the store: opened now",
              c->describe());
    unopened.push_back(conn);  // read when epoll says so, after the Welcome's items
  }
  inherited_.connections.clear();
  for (auto& [conn, fd] : inherited_.outboxes) {
    fd_store_.remove(outbox_fd_name(conn));
    ::close(fd);
  }
  inherited_.outboxes.clear();
  return unopened;
}

void SocketTransport::on_fd_ready(uint32_t) {
  accept_clients();
}

void SocketTransport::request_resume(std::shared_ptr<Conn> c) {
  {
    std::lock_guard lock(resume_mu_);
    resume_.push_back(std::move(c));
  }
  poller_.wake_up();
}

void SocketTransport::accept_clients() {
  for (;;) {
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
        log_.warn("accept on {}: {}", options_.path, std::strerror(errno));
      }
      return;
    }
    // In the fd store before anything else, and before the store hears of it: killed
    // after this, the next frontend gets the socket back and, if the store never opened
    // it, opens it (release_unclaimed()). Killed before, the client's connect succeeded
    // and its socket is closed: the window is these two system calls.
    const uint64_t id = dispatch_.new_connection_id();
    fd_store_.store(connection_fd_name(id), fd);
    std::shared_ptr<Conn> c = add_client(fd, socket_identity(fd));
    c->set_id(id);
    c->open_outbox();
    dispatch_.open(id, c, c->identity());
  }
}

void SocketTransport::drop(Conn& c, std::string_view reason) {
  poller_.remove(c.fd(), c);
  // The connection is over at the store: what the socket still holds is read away, so
  // that closing it ends the client's stream rather than resetting it (ECONNRESET).
  for (;;) {
    char sink[kReadChunk];
    const ssize_t n = ::recv(c.fd(), sink, sizeof sink, MSG_DONTWAIT);
    if (n > 0 || (n < 0 && errno == EINTR)) continue;
    break;
  }
  c.mark_closed();
  dispatch_.on_closed(c.id(), reason);
  fd_store_.remove(connection_fd_name(c.id()));
  fd_store_.remove(outbox_fd_name(c.id()));
  log_.debug("{} gone: {}", c.describe(), reason);
  conns_.erase(&c);
}

void SocketTransport::process_input(Conn& c) {
  while (c.input_off < c.input.size() && c.reading()) {
    const auto* data = reinterpret_cast<const uint8_t*>(c.input.data()) + c.input_off;
    c.input_off += c.assembler.feed(data, c.input.size() - c.input_off);
    if (c.assembler.failed()) {
      log_.warn("{} announced a {}-byte payload (limit {}); closing it", c.describe(),
                c.assembler.bad_length(), wire::kPayloadMax);
      drop(c, "payload over 4096 bytes");
      return;
    }
    if (c.assembler.has_message() && !dispatch_.on_message(c.id(), c.assembler.take())) {
      c.set_dispatch_paused(true);  // too many requests in flight: read on when answered
    }
  }
  if (c.input_off == c.input.size()) {
    c.input.clear();
    c.input_off = 0;
  }
}

// Edge-triggered: reads until a short read says the socket has nothing more for now
// (a later arrival is a new edge), or until the client may not be read.
void SocketTransport::read_from(Conn& c) {
  if (c.input_off < c.input.size()) {
    process_input(c);  // a resumed client's head, peeked at adoption
    if (conns_.count(&c) == 0 || !c.reading()) return;
  }
  for (;;) {
    char buf[kReadChunk];
    ssize_t n = ::recv(c.fd(), buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) {
      std::string reason = c.close_reason();
      drop(c, reason.empty() ? "closed by the client" : reason);
      return;
    }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      drop(c, std::strerror(errno));
      return;
    }
    c.input.append(buf, static_cast<size_t>(n));
    process_input(c);
    if (static_cast<size_t>(n) < sizeof buf || conns_.count(&c) == 0 || !c.reading()) return;
  }
}

// At adoption: peeks at everything the socket holds unconsumed, and at what the killed
// frontend left in the client's outbox; consumes the requests that left answered; tells
// the dispatch where the rest stand. Their requests are handed on by run_pending() (not
// now: the session is only being attached).
void SocketTransport::resume_head(Conn& c) {
  int unread = 0;
  if (ioctl(c.fd(), FIONREAD, &unread) < 0) unread = 0;
  while (c.input.size() < static_cast<size_t>(unread)) {
    char buf[kReadChunk];
    ssize_t n = ::recv(c.fd(), buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    c.input.append(buf, static_cast<size_t>(n));
  }
  std::vector<wire::Header> headers;
  std::vector<uint64_t> head;
  std::vector<size_t> ends;
  for (size_t at = 0; c.input.size() - at >= wire::kHeaderSize;) {
    const wire::Header h =
        wire::decode_header(reinterpret_cast<const uint8_t*>(c.input.data()) + at);
    if (h.len > wire::kPayloadMax || c.input.size() - at - wire::kHeaderSize < h.len) break;
    headers.push_back(h);
    head.push_back(
        request_digest(h, std::string_view(c.input).substr(at + wire::kHeaderSize, h.len)));
    at += wire::kHeaderSize + h.len;
    ends.push_back(at);
  }

  size_t answered = 0;
  auto out = inherited_.outboxes.find(c.id());
  if (out != inherited_.outboxes.end()) {
    const int pipe_fd = out->second;
    inherited_.outboxes.erase(out);
    Result<std::string> pending = SocketOutbox::peek_pipe(pipe_fd);
    if (!pending) {
      log_.warn("{}: its outbox cannot be read ({}); its last reply may be repeated", c.describe(),
                pending.status().to_string());
    } else {
      answered = answered_at_head(*pending, headers);
    }
    if (answered > 0) {
      // Answered, and the answers are in the outbox: consumed now, never sent again.
      const size_t bytes = ends[answered - 1];
      if (!SocketOutbox::consume(c.fd(), bytes)) {
        log_.warn("{}: fewer bytes than peeked; its stream is lost", c.describe());
      }
      c.input.erase(0, bytes);
      log_.info("{}: {} requests answered in its outbox before the restart", c.describe(),
                answered);
    }
    c.adopt_outbox(pipe_fd);
    schedule_flush(conns_.at(&c));
  } else {
    c.open_outbox();
  }
  dispatch_.resume_at(c.id(), head, answered);
  if (!c.input.empty()) request_resume(conns_.at(&c));
}

void SocketTransport::handle(Conn& c, uint32_t events) {
  auto keep = conns_.at(&c);  // c stays alive through this call
  if (events & EPOLLOUT) {
    c.flush();
    if (c.reading() && c.input_off < c.input.size()) process_input(c);  // backlog drained
  }
  if (c.broken()) {
    drop(c, "write failed");
    return;
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
    if (c.reading()) {
      read_from(c);
    } else if (events & (EPOLLHUP | EPOLLERR)) {
      drop(c, "hung up");
    }
  }
}

void SocketTransport::schedule_flush(std::shared_ptr<Conn> c) {
  std::lock_guard lock(flush_mu_);
  to_flush_.push_back(std::move(c));
}

void SocketTransport::flush_pending() {
  std::vector<std::shared_ptr<Conn>> batch;
  {
    std::lock_guard lock(flush_mu_);
    batch.swap(to_flush_);
  }
  for (auto& c : batch) {
    if (conns_.count(c.get()) == 0) continue;  // dropped meanwhile
    c->flush();
    if (c->broken()) drop(*c, "write failed");
  }
}

int SocketTransport::run_pending() {
  // Connections the dispatch has room for again (resume_reading()).
  std::vector<std::shared_ptr<Conn>> resume;
  {
    std::lock_guard lock(resume_mu_);
    resume.swap(resume_);
  }
  int handled = 0;
  for (auto& c : resume) {
    if (conns_.count(c.get()) == 0) continue;
    c->set_dispatch_paused(false);
    process_input(*c);
    ++handled;
  }
  return handled;
}

}  // namespace dxs::frontend
