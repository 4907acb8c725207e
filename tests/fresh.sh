#!/bin/bash
# shellcheck disable=SC2317  # functions called from traps
# tests/fresh.sh - the newcomer's path, as CI runs it and as a developer runs it before
# closing an issue: README's two commands on a bare Debian 12, nothing else.
#
#   1. makes a bare Debian 12 root (debootstrap --variant=minbase bookworm, from the Debian
#      mirror this machine's apt uses), from a tarball kept in the cache directory;
#   2. copies in the repository's files alone, as a clone has them: the tracked and the
#      untracked-not-ignored files of this working tree, uncommitted changes included; no
#      build directories, no .git, nothing beside it (no ../shared);
#   3. in a chroot there (as root; /proc, /sys and /dev mounted), runs `deploy/up.sh` on the
#      bare root: it must install what it needs, build, and serve; checks that
#      xenstore-write, xenstore-read and xenstore-ls work against it, stops it with SIGINT as
#      Ctrl-C would (to its whole process group), runs it again, checks that it kept the
#      state, stops it with SIGTERM; each time it must exit 0 promptly and leave no
#      dxs-store or dxs-frontend running. This check counts as one test.
#   4. then runs `tests/run.sh` there, showing its output.
#   5. unmounts everything, whatever happened, and removes the root.
#
# The last line of output is the counts, "N passed, N failed": the suite's, plus the
# deploy/up.sh check. Exit status 0 only if everything passed. A step of this script that
# fails (debootstrap, a mount) is named on the line before "0 passed, 1 failed".
#
# Needs root. Environment:
#   DXS_FRESH_CACHE    cache directory (default /var/cache/dxs-fresh): the minbase tarball
#                      (remade when older than DXS_FRESH_MAX_AGE days, default 30) and the
#                      .debs apt downloaded (bind-mounted on the root's
#                      /var/cache/apt/archives, so later runs skip the downloads)
#   DXS_FRESH_MIRROR   Debian mirror (default: the one this machine's apt uses for
#                      bookworm main, else http://deb.debian.org/debian)
#   DXS_FRESH_TMP      parent of the temporary root (default /var/tmp)
#   DXS_FRESH_KEEP=1   keep the root afterwards (unmounted) to look into it
#   DXS_FRESH_SUITE_TIMEOUT, DXS_FRESH_UP_TIMEOUT
#                      deadlines in seconds for tests/run.sh (default 3600) and for
#                      deploy/up.sh to build and serve (default 1800)
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}
export LC_ALL=C

me=tests/fresh.sh
suite=bookworm
repo_in_root=/root/dxs   # where the "clone" is, inside the root

say() { printf '%s: %s\n' "$me" "$*" >&2; }

# The environment of a root shell on the new machine. env --default-signal undoes signals
# that whoever started this script ignored (CI runners, `cmd &` in a script): Ctrl-C and
# SIGTERM must reach deploy/up.sh and the daemons as they would on a terminal.
in_root() {
  chroot "$root" /usr/bin/env --default-signal -i HOME=/root TERM="${TERM:-dumb}" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "$@"
}

# pids of the processes whose root directory is the new root.
procs_in_root() {
  local d
  for d in /proc/[0-9]*; do
    if [ "$(readlink "$d/root" 2>/dev/null)" = "$root" ]; then echo "${d#/proc/}"; fi
  done
}

# Mount points at or under $1.
mounts_under() {
  findmnt -rn -o TARGET | awk -v p="$1" '$0 == p || index($0, p "/") == 1'
}

# ---------------------------------------------------------------------------------------
# Inside a private mount namespace (the second half): mounts, the two commands, unmounts.
# Mounts made here are never seen by the rest of the machine and vanish with the last
# process of the namespace, even if this script is killed with SIGKILL; they are also
# unmounted explicitly, whatever happens.
# ---------------------------------------------------------------------------------------
inside() {
  work=$1
  root=$work/root
  result=$work/result     # "PASSED FAILED", read by the outer half
  echo "0 1" >"$result"
  suite_passed=0 suite_failed=0 up_ok=0
  mounted=""

  # Stops every process left in the root: TERM, then KILL after 10 s.
  stop_root_procs() {
    local pids i
    pids=$(procs_in_root)
    [ -z "$pids" ] && return 0
    # shellcheck disable=SC2086
    kill -TERM $pids 2>/dev/null
    for ((i = 0; i < 100; i++)); do
      pids=$(procs_in_root)
      [ -z "$pids" ] && return 0
      sleep 0.1
    done
    say "killing what is left in the root: $(for p in $pids; do tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null; echo; done)"
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null
    for ((i = 0; i < 100; i++)); do
      [ -z "$(procs_in_root)" ] && return 0
      sleep 0.1
    done
    return 1
  }

  unmount_all() {
    local m left
    for m in $mounted; do
      if mountpoint -q "$m"; then
        umount -R "$m" 2>/dev/null || umount -R -l "$m" || say "cannot unmount $m"
      fi
    done
    mounted=""
    left=$(mounts_under "$root")
    if [ -n "$left" ]; then
      say "still mounted: $left"
      return 1
    fi
  }

  finish() {
    trap - EXIT INT TERM
    local leftover
    leftover=$(procs_in_root)
    if [ -n "$leftover" ]; then
      say "processes still running in the root; stopping them"
      stop_root_procs
    fi
    unmount_all || { echo "0 1" >"$result"; exit 1; }
    exit 0
  }
  trap finish EXIT
  trap 'say "interrupted"; echo "0 1" >"$result"; exit 1' INT TERM

  # Runs a command in the background and waits, so that a signal is handled at once.
  waiting() {
    "$@" &
    wait $!
  }

  step_failed() {
    say "$1 failed${2:+ ($2)}"
    echo "0 1" >"$result"
    exit 1
  }

  # --- mounts ----------------------------------------------------------------------------
  mount -t proc proc "$root/proc" || step_failed "mounting /proc"
  mounted="$root/proc"
  mount --rbind /sys "$root/sys" || step_failed "mounting /sys"
  mounted="$root/sys $mounted"
  mount --rbind /dev "$root/dev" || step_failed "mounting /dev"   # with /dev/pts, /dev/shm
  mounted="$root/dev $mounted"
  if [ -n "${DXS_FRESH_ARCHIVES:-}" ]; then
    mount --bind "$DXS_FRESH_ARCHIVES" "$root/var/cache/apt/archives" ||
      step_failed "mounting the package cache"
    mounted="$root/var/cache/apt/archives $mounted"
  fi

  # --- 1. deploy/up.sh -------------------------------------------------------------------
  if up_check; then
    up_ok=1
    say "deploy/up.sh check: passed"
  else
    say "deploy/up.sh check: FAILED"
  fi
  stop_root_procs

  # --- 2. tests/run.sh -------------------------------------------------------------------
  say "running tests/run.sh in the fresh root (as README says: cd to the clone, tests/run.sh)"
  local suite_log=$work/suite.log suite_status
  # shellcheck disable=SC2016
  waiting bash -c '
    timeout --kill-after=30 "$1" chroot "$2" /usr/bin/env --default-signal -i HOME=/root \
      TERM="${TERM:-dumb}" PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      /bin/sh -c "cd $3 && exec tests/run.sh" </dev/null 2>&1 | tee "$4"
    echo "${PIPESTATUS[0]}" >"$4.status"' _ "${DXS_FRESH_SUITE_TIMEOUT:-3600}" "$root" \
    "$repo_in_root" "$suite_log"
  suite_status=$(cat "$suite_log.status" 2>/dev/null || echo 1)
  local last
  last=$(tail -n 1 "$suite_log" 2>/dev/null)
  if [[ "$last" =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    suite_passed=${BASH_REMATCH[1]} suite_failed=${BASH_REMATCH[2]}
  else
    say "tests/run.sh did not end with its counts (exit status $suite_status)"
    suite_passed=0 suite_failed=1
  fi
  if [ "$suite_status" = 124 ] || [ "$suite_status" = 137 ]; then
    say "tests/run.sh did not finish within ${DXS_FRESH_SUITE_TIMEOUT:-3600} s"
  fi
  if [ "$suite_status" != 0 ] && [ "$suite_failed" = 0 ]; then
    suite_failed=1
  fi
  say "tests/run.sh: exit status $suite_status, $suite_passed passed, $suite_failed failed"
  if [ -n "$(procs_in_root)" ]; then
    say "tests/run.sh left processes running in the root; stopping them"
    stop_root_procs
  fi

  # The package cache keeps only what the mirror still has.
  if [ -n "${DXS_FRESH_ARCHIVES:-}" ]; then in_root apt-get -qq autoclean </dev/null >/dev/null 2>&1; fi

  echo "$((suite_passed + up_ok)) $((suite_failed + 1 - up_ok))" >"$result"
}

# up_check: deploy/up.sh in the root serves the Debian clients and stops on a signal.
up_check() {
  local value="written by tests/fresh.sh" out
  local deadline=${DXS_FRESH_UP_TIMEOUT:-1800}

  say "running deploy/up.sh in the fresh root (it installs, builds build/, then serves)"
  up_start "$work/up1.log" "$deadline" || return 1
  if ! xs xenstore-write /fresh/check "$value"; then up_stop INT; return 1; fi
  out=$(xs xenstore-read /fresh/check) || { up_stop INT; return 1; }
  if [ "$out" != "$value" ]; then
    say "xenstore-read /fresh/check gave '$out', not '$value'"
    up_stop INT
    return 1
  fi
  out=$(xs xenstore-ls /fresh) || { up_stop INT; return 1; }
  if [ "$out" != "check = \"$value\"" ]; then
    say "xenstore-ls /fresh gave '$out'"
    up_stop INT
    return 1
  fi
  say "ok: xenstore-write, xenstore-read, xenstore-ls against deploy/up.sh"
  up_stop INT || return 1
  say "ok: Ctrl-C (SIGINT to its process group) stopped deploy/up.sh and both daemons"

  say "running deploy/up.sh again (it reuses the state)"
  up_start "$work/up2.log" 300 || return 1
  out=$(xs xenstore-read /fresh/check) || { up_stop TERM; return 1; }
  if [ "$out" != "$value" ]; then
    say "after a restart, xenstore-read /fresh/check gave '$out', not '$value'"
    up_stop TERM
    return 1
  fi
  say "ok: the second run kept the state"
  up_stop TERM || return 1
  say "ok: SIGTERM stopped deploy/up.sh and both daemons"
}

# xs CLIENT ARGS...: a Debian client against deploy/up.sh's socket, within 30 s.
xs() {
  local out status=0
  out=$(timeout 30 chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    XENSTORED_PATH="$repo_in_root/.dxs/xenstored.sock" "$@" 2>&1) || status=$?
  if [ $status -ne 0 ]; then
    say "$* failed (exit status $status): $out"
    return 1
  fi
  printf '%s\n' "$out"
}

# up_start LOG DEADLINE: starts deploy/up.sh in its own process group (as a shell does for
# a command typed at a terminal); returns when it says it is running, or 1 if it exits or
# the deadline passes first.
up_start() {
  local log=$1 deadline=$(($(date +%s) + $2))
  up_log=$log
  # Not through a function: $! must be deploy/up.sh itself (chroot and env exec it).
  set -m
  chroot "$root" /usr/bin/env --default-signal -i HOME=/root TERM="${TERM:-dumb}" \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/sh -c "cd $repo_in_root && exec deploy/up.sh" </dev/null >"$log" 2>&1 &
  up_pid=$!
  set +m
  until grep -q "^dxs is running" "$log"; do
    if ! kill -0 "$up_pid" 2>/dev/null; then
      local status=0
      wait "$up_pid" || status=$?
      show_up_log
      say "deploy/up.sh exited with status $status before it served"
      return 1
    fi
    if [ "$(date +%s)" -ge "$deadline" ]; then
      show_up_log
      say "deploy/up.sh did not serve within $2 s"
      kill -KILL -- "-$up_pid" 2>/dev/null
      wait "$up_pid" 2>/dev/null
      return 1
    fi
    sleep 0.5
  done
}

show_up_log() {
  echo "---- deploy/up.sh's output ----" >&2
  cat "$up_log" >&2
  echo "---- end of deploy/up.sh's output ----" >&2
}

# up_stop INT|TERM: INT goes to deploy/up.sh's process group (Ctrl-C), TERM to deploy/up.sh
# alone (kill PID). It must exit 0 within 30 s, leaving no dxs-store or dxs-frontend.
up_stop() {
  local sig=$1 i status=0 left p
  if [ "$sig" = INT ]; then kill -INT -- "-$up_pid"; else kill -TERM "$up_pid"; fi
  for ((i = 0; i < 300; i++)); do
    kill -0 "$up_pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$up_pid" 2>/dev/null; then
    show_up_log
    say "deploy/up.sh did not exit within 30 s of SIG$sig"
    kill -KILL -- "-$up_pid" 2>/dev/null
    wait "$up_pid" 2>/dev/null
    return 1
  fi
  wait "$up_pid" || status=$?
  show_up_log
  left=""
  for p in $(procs_in_root); do
    case "$(cat "/proc/$p/comm" 2>/dev/null)" in
      dxs-store|dxs-frontend) left="$left $p($(cat "/proc/$p/comm"))" ;;
    esac
  done
  if [ -n "$left" ]; then
    say "after SIG$sig, still running:$left"
    return 1
  fi
  if [ $status -ne 0 ]; then
    say "deploy/up.sh exited with status $status after SIG$sig"
    return 1
  fi
}

if [ "${1:-}" = --inside ]; then
  inside "$2"
  exit 0
fi

# ---------------------------------------------------------------------------------------
# Outside (the first half): debootstrap, the tarball, the root, the copy, the cleanup.
# ---------------------------------------------------------------------------------------

# fail STEP: the step's output is above; name it and end with the counts.
fail() {
  cleanup
  say "$1 failed${2:+: $2}"
  echo "0 passed, 1 failed"
  exit 1
}

work=""
root=""
inner=""
cleanup() {
  trap - EXIT INT TERM
  if [ -n "$inner" ] && kill -0 "$inner" 2>/dev/null; then
    kill -TERM "$inner" 2>/dev/null
    wait "$inner" 2>/dev/null
  fi
  inner=""
  [ -n "$work" ] && [ -d "$work" ] || return 0
  local left
  left=$(mounts_under "$work")
  if [ -n "$left" ]; then
    say "NOT removing $work: still mounted: $left"
    return 0
  fi
  if [ -n "$(procs_in_root)" ]; then
    say "NOT removing $work: processes still run in it: $(procs_in_root | tr '\n' ' ')"
    return 0
  fi
  if [ -n "${DXS_FRESH_KEEP:-}" ]; then
    say "kept the root: $root (nothing mounted in it; chroot $root to look)"
  else
    rm -rf --one-file-system "$work"
  fi
  work=""
}
trap 'cleanup' EXIT
trap 'fail "the run" "interrupted"' INT TERM

# Runs a step quietly; shows its output when it fails.
quiet() {
  local what=$1 log
  shift
  log=$(mktemp "${TMPDIR:-/tmp}/dxs-fresh.XXXXXX") || fail "$what" "mktemp"
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    fail "$what" "output above"
  fi
  rm -f "$log"
}

# The URI this machine's apt uses for "$suite main" (deb822 .sources, then one-line lists).
host_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    awk -v suite="$suite" '
      function has(list, word) { return (" " list " ") ~ (" " word " ") }
      function flush() {
        if (enabled != "no" && has(types, "deb") && has(suites, suite) && has(comps, "main")) {
          n = split(uris, u, " ")
          for (i = 1; i <= n; i++) if (u[i] ~ /^https?:\/\//) { print u[i]; found = 1; exit }
        }
        types = suites = comps = uris = enabled = key = ""
      }
      /^[ \t]*#/ { next }
      /^[ \t]*$/ { flush(); next }
      /^[ \t]/ { if (key == "uris") uris = uris " " $0; next }   # a continuation line
      {
        key = tolower(substr($0, 1, index($0, ":") - 1))
        value = substr($0, index($0, ":") + 1)
        gsub(/[ \t]+/, " ", value)
        if (key == "types") types = value
        else if (key == "uris") uris = value
        else if (key == "suites") suites = value
        else if (key == "components") comps = value
        else if (key == "enabled") { gsub(/ /, "", value); enabled = tolower(value) }
      }
      END { if (!found) flush() }' "$f"
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] || continue
    awk -v suite="$suite" '
      $1 != "deb" { next }
      {
        i = 2
        if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }   # [options]
        uri = $i; s = $(i + 1); main = 0
        for (j = i + 2; j <= NF; j++) if ($j == "main") main = 1
        if (s == suite && main && uri ~ /^https?:\/\//) { print uri; exit }
      }' "$f"
  done
}

if [ "$(id -u)" -ne 0 ]; then
  echo "$me: needs root (debootstrap, chroot, mount)" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
top=$(cd "$(dirname "$0")/.." && pwd) || fail "finding the repository"
start=$(date +%s)

# --- debootstrap ---------------------------------------------------------------------------
if ! command -v debootstrap >/dev/null; then
  say "installing debootstrap"
  export DEBIAN_FRONTEND=noninteractive
  quiet "apt-get update (to install debootstrap)" apt-get update -q
  quiet "installing debootstrap" apt-get install -y -q debootstrap
fi

mirror=${DXS_FRESH_MIRROR:-$(host_mirror | head -n 1)}
mirror=${mirror:-http://deb.debian.org/debian}
say "Debian mirror: $mirror"

cache=${DXS_FRESH_CACHE:-/var/cache/dxs-fresh}
mkdir -p "$cache/archives/partial" || fail "making the cache directory $cache"
cache=$(cd "$cache" && pwd) || fail "finding the cache directory"
arch=$(dpkg --print-architecture) || fail "dpkg --print-architecture"
tarball=$cache/$suite-minbase-$arch.tgz
if [ -f "$tarball" ] && [ -n "$(find "$tarball" -mtime +"${DXS_FRESH_MAX_AGE:-30}")" ]; then
  say "$tarball is older than ${DXS_FRESH_MAX_AGE:-30} days; making it anew"
  rm -f "$tarball"
fi

work=$(mktemp -d "${DXS_FRESH_TMP:-/var/tmp}/dxs-fresh.XXXXXX") || fail "making the temporary directory"
root=$work/root

if [ ! -f "$tarball" ]; then
  say "making $tarball (debootstrap --variant=minbase --make-tarball $suite $mirror)"
  t0=$(date +%s)
  quiet "debootstrap --make-tarball" debootstrap --variant=minbase \
    --make-tarball="$cache/.new.$$.tgz" "$suite" "$work/tarball" "$mirror"
  mv -f "$cache/.new.$$.tgz" "$tarball" || fail "keeping the tarball"
  rm -rf "$work/tarball"
  say "made the tarball in $(($(date +%s) - t0)) s"
fi

say "making a fresh $suite root in $root"
quiet "debootstrap --unpack-tarball" debootstrap --variant=minbase --unpack-tarball="$tarball" \
  "$suite" "$root" "$mirror"
cp -L /etc/resolv.conf "$root/etc/resolv.conf" || fail "copying /etc/resolv.conf"

# --- the clone ---------------------------------------------------------------------------------
say "copying the repository's files (tracked and untracked-not-ignored, as in the working tree) to $repo_in_root"
mkdir -p "$root$repo_in_root" || fail "mkdir $repo_in_root"
(
  set -o pipefail
  cd "$top" &&
    git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do
      if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi   # not deleted meanwhile
    done |
    tar --null --no-recursion -T - -cf - | tar -C "$root$repo_in_root" -xf -
) || fail "copying the repository"

# Another run using the package cache at the same time would fight it over apt's lock:
# then this run downloads its own packages.
archives=""
exec 9>"$cache/.lock"
if flock -n 9; then
  archives=$cache/archives
else
  say "another run is using $cache/archives; this one downloads its own packages"
fi

# --- the chroot, in a mount namespace of its own -------------------------------------------
unshare --mount --propagation private -- env DXS_FRESH_ARCHIVES="$archives" \
  bash "$0" --inside "$work" 9>&- &
inner=$!
wait "$inner"
inner_status=$?
inner=""
exec 9>&-

if ! read -r passed failed <"$work/result" 2>/dev/null; then
  say "the chroot (unshare --mount, exit status $inner_status) failed before it began"
  passed=0 failed=1
fi
cleanup
say "took $(($(date +%s) - start)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
