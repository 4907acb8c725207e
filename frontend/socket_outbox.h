// SocketOutbox: what one socket client is sent, and when the requests it answers leave
// the client's socket.
//
// Messages are queued whole, each reply with the wire size of the request it answers
// (the transport only peeked at it). deliver() consumes those requests and writes the
// messages, as far as the socket takes them without blocking.
//
// Durable outboxes (the frontend's sockets are in systemd's fd store, so they outlive
// it): a frontend can be SIGKILLed between any two system calls, and a client that has
// read its reply leaves no trace of having read it, so consuming a request and writing
// its reply, one after the other, would leave an instant after which a restarted
// frontend cannot know whether the reply went out: it would either never answer or
// answer twice. The bytes therefore pass through a pipe of the outbox's own, which is in
// the fd store too: whole messages are written into the empty pipe, then the requests
// they answer are consumed, then splice(2) moves the pipe's bytes to the socket, each
// byte exactly once. A restarted frontend finds what the killed one left in the pipe
// (peek_pipe()) and, if the requests its replies answer are still in the socket
// (answered_at_head(), request_identity.h), consumes them; then it goes on with the same
// pipe (adopt_pipe()), whose bytes reach the socket before anything new.
//
// The pipe is one descriptor open for reading and writing (reopened through /proc):
// systemd drops a stored descriptor that polls POLLHUP, which a read end does as soon
// as its last writer is gone, that is, when the frontend dies. docs/design.md,
// "Frontend restarts".
//
// Not thread-safe: the transport serialises calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "common/result.h"

namespace dxs::frontend {

class SocketOutbox {
 public:
  // The pipe a durable outbox is given: room for the largest message several times, and
  // small enough that thousands of clients stay inside the kernel's per-user pipe budget
  // (fs.pipe-user-pages-soft).
  static constexpr size_t kPipeBytes = 16 << 10;

  // `sock` is the client's socket, owned by the caller and outliving the outbox.
  explicit SocketOutbox(int sock) : sock_(sock) {}
  ~SocketOutbox();
  SocketOutbox(const SocketOutbox&) = delete;
  SocketOutbox& operator=(const SocketOutbox&) = delete;

  // Makes the outbox durable with a new pipe (pipe_fd(), the one to store). Fails (the
  // outbox stays direct) when no pipe can be had with room enough.
  Status open_pipe();
  // Goes on with the pipe a killed frontend left: what it holds is delivered before
  // anything queued here. Takes ownership of `fd`. Fails (and closes it) when it is no
  // pipe of an outbox's.
  Status adopt_pipe(int fd);
  // The pipe (what the fd store keeps), or -1.
  int pipe_fd() const { return pipe_; }

  // What is in a pipe, without taking it out (tee(2) into a scratch pipe).
  static Result<std::string> peek_pipe(int fd);
  // Reads away the first `bytes` of socket `sock`, which a peek found there. False if it
  // held fewer (somebody else reads it: its stream is lost).
  static bool consume(int sock, size_t bytes);

  // Queues one whole message; `consume` is the wire size of the request a reply
  // answers (0 for an event), `event_id` a watch event's id (0 for a reply).
  void queue(std::string_view bytes, uint32_t consume, uint64_t event_id);

  enum class Progress {
    kDone,     // everything queued has reached the socket
    kBlocked,  // the socket is full: call again when it is writable
    kBroken,   // the socket failed: the client is to be dropped
  };
  // Consumes answered requests and writes. `acked_event` is raised to the highest event
  // id delivered: written to the socket, or (durable) into the pipe, from which no
  // restart loses it.
  Progress deliver(uint64_t& acked_event);

  // Bytes not yet in the socket (the client's backlog).
  size_t backlog() const { return out_.size() + in_pipe_; }

 private:
  struct Message {
    size_t size;
    uint32_t consume;
    uint64_t event_id;
  };
  Progress deliver_direct(uint64_t& acked_event);
  void deliver_through_pipe(uint64_t& acked_event);
  void close_pipe();

  const int sock_;
  std::string out_;             // queued messages, not yet in the pipe or the socket
  std::deque<Message> queued_;  // their boundaries, in order
  // Direct: bytes of out_ already written (a message may go out in pieces).
  size_t sent_ = 0;
  int pipe_ = -1;
  size_t pipe_capacity_ = 0;
  size_t in_pipe_ = 0;  // bytes in the pipe, not yet in the socket
};

}  // namespace dxs::frontend
