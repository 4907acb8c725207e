#include "dxsctl/subprocess.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

extern char** environ;

namespace dxs::ctl {
namespace {

std::vector<char*> c_argv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  for (const std::string& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

// Spawns argv with `child_stdin` / `child_stdout` (-1: inherited) as its standard input
// and output.
Result<pid_t> spawn(const std::vector<std::string>& argv, int child_stdin, int child_stdout,
                    int close_in_child) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (child_stdin >= 0) posix_spawn_file_actions_adddup2(&fa, child_stdin, 0);
  if (child_stdout >= 0) posix_spawn_file_actions_adddup2(&fa, child_stdout, 1);
  if (close_in_child >= 0) posix_spawn_file_actions_addclose(&fa, close_in_child);
  std::vector<char*> args = c_argv(argv);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return Status::error(rc, argv[0] + ": " + std::strerror(rc));
  return pid;
}

Status wait_ok(pid_t pid, const std::string& name) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return Status::error(errno, "waitpid");
  }
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return Status::ok();
  if (WIFEXITED(status))
    return Status::error(ECHILD,
                         name + " exited with status " + std::to_string(WEXITSTATUS(status)));
  return Status::error(ECHILD, name + " was killed by signal " + std::to_string(WTERMSIG(status)));
}

std::string describe(const std::vector<std::string>& argv) {
  std::string out;
  for (size_t i = 0; i < argv.size() && i < 4; ++i) out += (i ? " " : "") + argv[i];
  return out;
}

}  // namespace

Result<std::string> run_capture(const std::vector<std::string>& argv) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Status::error(errno, "pipe");
  Result<pid_t> pid = spawn(argv, -1, fds[1], fds[0]);
  close(fds[1]);
  if (!pid) {
    close(fds[0]);
    return pid.status();
  }
  std::string out;
  char buf[65536];
  while (true) {
    const ssize_t n = read(fds[0], buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  close(fds[0]);
  DXS_RETURN_IF_ERROR(wait_ok(*pid, describe(argv)));
  return out;
}

PipedChild::~PipedChild() {
  kill();
}

Status PipedChild::start(const std::vector<std::string>& argv) {
  // A child gone mid-stream is an EPIPE from write(), not a signal that ends dxsctl.
  signal(SIGPIPE, SIG_IGN);
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Status::error(errno, "pipe");
  Result<pid_t> pid = spawn(argv, fds[0], -1, fds[1]);
  close(fds[0]);
  if (!pid) {
    close(fds[1]);
    return pid.status();
  }
  pid_ = *pid;
  fd_ = fds[1];
  return Status::ok();
}

Status PipedChild::write(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::error(errno, "writing to git");
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return Status::ok();
}

Status PipedChild::finish() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  if (pid_ < 0) return Status::error(ECHILD, "not started");
  const pid_t pid = pid_;
  pid_ = -1;
  return wait_ok(pid, "git fast-import");
}

void PipedChild::kill() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  if (pid_ < 0) return;
  ::kill(pid_, SIGTERM);
  int status;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

}  // namespace dxs::ctl
