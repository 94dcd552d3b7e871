// Raw system calls and thin throwing wrappers: the one place the builder talks to the kernel
// directly. Wrappers throw SysError with the call and its arguments; every fd is O_CLOEXEC.
#pragma once

#include <string>
#include <utility>
#include <sys/types.h>
#include <vector>

#include "common/fd.h"

namespace romimg::sys {

Fd open(const std::string& path, int flags, mode_t mode = 0);
Fd openat(int dirfd, const std::string& path, int flags, mode_t mode = 0);
// openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS: the kernel
// proves `path` resolves inside `dirfd` (no "..", absolute name or symlink can leave it).
Fd openat_beneath(int dirfd, const std::string& path, int flags, mode_t mode = 0);
// mkdirat; an existing entry is fine (openat_beneath then says whether it is a directory).
void mkdirat_existing_ok(int dirfd, const std::string& name, mode_t mode);
// renameat2(RENAME_EXCHANGE): swaps two existing paths atomically.
void rename_exchange(const std::string& a, const std::string& b);
std::pair<Fd, Fd> pipe();                      // {read end, write end}
void write_all(int fd, const std::string& data);
std::string read_all(int fd);                  // until EOF
bool read_exact(int fd, void* buf, size_t n);  // false on EOF before n bytes

// readlinkat without throwing: "" and errno set on failure.
std::string readlinkat_or_empty(int dirfd, const std::string& path);

void mount(const std::string& source, const std::string& target, const std::string& type,
           unsigned long flags, const std::string& data = "");
void umount2(const std::string& target, int flags);
void pivot_root(const std::string& new_root, const std::string& put_old);
void unshare(int flags);
void setns(int fd, int nstype);
void set_loopback_up();                        // in the current network namespace
void mkdir_p(const std::string& path, mode_t mode = 0755);

// fork + execve of `exe` as the leader of a new process group that dies with the calling thread
// (PR_SET_PDEATHSIG SIGKILL, re-checked against the parent that forked it). fds[i] >= 0 becomes
// the child's fd i; `cwd` "" = inherit. argv and envp end with nullptr. With `as` (uid, gid), the
// child drops to it (no supplementary groups, no_new_privs) before execve. Throws SysError when
// fork, dup2, chdir, the drop or execve fails (the child's errno comes back through a CLOEXEC pipe).
pid_t spawn_group_leader(const std::string& exe, char* const argv[], char* const envp[], const int fds[3],
                         const std::string& cwd, const std::pair<uid_t, gid_t>* as = nullptr);
Fd pidfd_open(pid_t pid);
// poll(2) for POLLIN (or hang-up) on one fd: false on timeout or EINTR.
bool poll_readable(int fd, int timeout_ms);

// Translates an errno value to its symbolic name ("ENOENT").
std::string errno_name(int err);
// Signal name ("TERM") and back; -1 if unknown.
std::string signal_name(int sig);
int signal_number(const std::string& name);

}  // namespace romimg::sys
