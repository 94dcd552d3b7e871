/*
 * PID 1 of the romlock test initramfs. Boots under the appliance kernel in QEMU, sets up a
 * policy, seals it, tries each operation and prints one line per rule on the console:
 *   ROMLOCK-TEST <rule> PASS|FAIL <detail>
 * then the romlock kernel log lines (ROMLOCK-DMESG ...), ROMLOCK-TEST-DONE, and powers off.
 * With romlock.mode=permissive on the command line it runs the permissive rules instead.
 * `init --probe` (what the exec tests try to run) just exits 42.
 *
 * Raw syscalls (no <sys/mount.h>) so the new mount API constants come from <linux/mount.h>.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/mount.h>
#include <linux/watchdog.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/reboot.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PR_ROMLOCK_EXEC_LOCK
#define PR_ROMLOCK_EXEC_LOCK 0x524f4d4c
#endif

#ifndef MNT_DETACH
#define MNT_DETACH 2 /* <sys/mount.h>, which clashes with <linux/mount.h> */
#endif

#define PROBE_EXIT 42
#define SECFS "/sys/kernel/security/romlock"
#define WRITABLE (MS_NOSUID | MS_NODEV | MS_NOEXEC)

static char *const probe_argv[] = {"/init", "--probe", NULL};
static char *const probe_envp[] = {NULL};
static int failures;

static void say(const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n > (int)sizeof(buf) - 2) n = sizeof(buf) - 2;
    buf[n++] = '\n';
    /* One write per line so lines from this process never interleave. */
    ssize_t w = write(1, buf, n);
    (void)w;
}

static void result(const char *rule, bool pass, const char *fmt, ...) {
    char detail[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    if (!pass) failures++;
    say("ROMLOCK-TEST %s %s %s", rule, pass ? "PASS" : "FAIL", detail);
}

/* ret/errno of a call that must fail with EPERM. */
static void expect_eperm(const char *rule, long ret, int err, const char *what) {
    if (ret == -1 && err == EPERM)
        result(rule, true, "%s refused with EPERM", what);
    else if (ret == -1)
        result(rule, false, "%s failed with %s, not EPERM", what, strerror(err));
    else
        result(rule, false, "%s succeeded", what);
}

static void expect_ok(const char *rule, long ret, int err, const char *what) {
    if (ret != -1)
        result(rule, true, "%s allowed", what);
    else
        result(rule, false, "%s failed: %s", what, strerror(err));
}

static long sys_mount(const char *src, const char *dst, const char *type, unsigned long flags,
                      const void *data) {
    return syscall(SYS_mount, src, dst, type, flags, data);
}

static int write_file(const char *path, const char *text) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = write(fd, text, strlen(text));
    int err = errno;
    close(fd);
    errno = err;
    return n == (ssize_t)strlen(text) ? 0 : -1;
}

static char *read_file(const char *path) {
    static char buf[16384];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return NULL;
    ssize_t total = 0, n;
    while (total < (ssize_t)sizeof(buf) - 1 && (n = read(fd, buf + total, sizeof(buf) - 1 - total)) > 0)
        total += n;
    close(fd);
    buf[total] = '\0';
    return buf;
}

/* Runs fn in a child; returns its exit status (or 128+signal). */
static int in_child(int (*fn)(void *), void *arg) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) _exit(fn(arg));
    int st;
    if (waitpid(pid, &st, 0) < 0) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int wait_code(pid_t pid) {
    int st;
    if (waitpid(pid, &st, 0) < 0) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Returns only if execve failed: 0 for EPERM, 1 for anything else. PROBE_EXIT if it ran. */
static int try_execve(void) {
    execve("/init", probe_argv, probe_envp);
    return errno == EPERM ? 0 : 1;
}

static int child_plain_execve(void *arg) {
    (void)arg;
    return try_execve();
}

static int lock_self_securityfs(void) { return write_file(SECFS "/exec_lock", "self"); }

static const char *exec_code_text(int code) {
    switch (code) {
    case 0: return "execve refused with EPERM";
    case PROBE_EXIT: return "execve SUCCEEDED";
    case 1: return "execve failed with another error";
    default: return "unexpected status";
    }
}

/* ---- mount rules (after the seal) ---- */

static int child_chroot(void *dir) {
    if (chroot((const char *)dir) == 0) return 0;
    return errno == EPERM ? 1 : 2;
}

static void chroot_rule(const char *rule, const char *dir, bool want_ok) {
    int code = in_child(child_chroot, (void *)dir);
    if (want_ok)
        result(rule, code == 0, "chroot %s: %s", dir,
               code == 0 ? "allowed" : code == 1 ? "refused with EPERM" : "failed");
    else
        result(rule, code == 1, "chroot %s: %s", dir,
               code == 0 ? "ALLOWED" : code == 1 ? "refused with EPERM" : "failed otherwise");
}

static int child_other_ns(void *arg) {
    (void)arg;
    if (unshare(CLONE_NEWNS) != 0) return 10;
    long bad = sys_mount("tmpfs", "/x", "tmpfs", WRITABLE, NULL);
    int bad_err = errno;
    long good = sys_mount("tmpfs", "/w3", "tmpfs", WRITABLE, NULL);
    if (!(bad == -1 && bad_err == EPERM)) return 11;
    if (good != 0) return 12;
    return 0;
}

static void run_mount_rules(void) {
    long r;

    r = sys_mount("tmpfs", "/w", "tmpfs", WRITABLE, "size=1m");
    expect_ok("mount-whitelisted", r, errno, "mount tmpfs /w nosuid,nodev,noexec");

    r = sys_mount("tmpfs", "/w2", "tmpfs", MS_NOSUID | MS_NODEV, NULL);
    expect_eperm("mount-missing-noexec", r, errno, "mount tmpfs /w2 nosuid,nodev (no noexec)");

    r = sys_mount("tmpfs", "/x", "tmpfs", WRITABLE, NULL);
    expect_eperm("mount-not-whitelisted", r, errno, "mount tmpfs /x");

    r = sys_mount("tmpfs", "/w", "tmpfs", WRITABLE, NULL);
    expect_eperm("mount-on-top", r, errno, "second mount tmpfs on /w");

    r = sys_mount(NULL, "/", NULL, MS_REMOUNT, NULL);
    expect_eperm("remount-root-rw", r, errno, "mount -o remount,rw /");

    r = sys_mount(NULL, "/ro", NULL, MS_REMOUNT, NULL);
    expect_eperm("remount-ro-rw", r, errno, "mount -o remount,rw /ro (read-only tmpfs)");

    r = sys_mount(NULL, "/ro", NULL, MS_REMOUNT | MS_BIND, NULL);
    expect_eperm("remount-bind-clear-ro", r, errno, "mount -o remount,bind,rw /ro");

    r = sys_mount("/scratch", "/x", NULL, MS_BIND, NULL);
    expect_eperm("bind-mount", r, errno, "mount --bind /scratch /x");

    r = sys_mount("/scratch", "/x", NULL, MS_MOVE, NULL);
    expect_eperm("move-mount", r, errno, "mount --move /scratch /x");

    r = sys_mount(NULL, "/scratch", NULL, MS_PRIVATE, NULL);
    expect_eperm("propagation-change", r, errno, "mount --make-private /scratch");

    /* New mount API: create a fresh tmpfs (even with the right flags, on a whitelisted dir). */
    int fsfd = syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
    if (fsfd < 0) {
        result("new-mount-api", false, "fsopen failed: %s", strerror(errno));
    } else if (syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) != 0) {
        result("new-mount-api", false, "fsconfig CMD_CREATE failed: %s", strerror(errno));
    } else {
        /* Refused at fsmount (no detached mount); were it not, move_mount must refuse. */
        int mfd = syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC,
                          MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
        if (mfd < 0) {
            expect_eperm("new-mount-api", -1, errno, "fsopen+fsconfig+fsmount of a tmpfs");
        } else {
            r = syscall(SYS_move_mount, mfd, "", AT_FDCWD, "/w2", MOVE_MOUNT_F_EMPTY_PATH);
            int merr = errno;
            result("new-mount-api", false, "fsmount created a detached mount; move_mount onto /w2 %s",
                   r == -1 && merr == EPERM ? "refused" : "NOT refused");
            close(mfd);
        }
    }
    if (fsfd >= 0) close(fsfd);

    int tfd = syscall(SYS_open_tree, AT_FDCWD, "/scratch", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (tfd < 0) {
        result("open-tree-bind", false, "open_tree failed: %s", strerror(errno));
    } else {
        r = syscall(SYS_move_mount, tfd, "", AT_FDCWD, "/x", MOVE_MOUNT_F_EMPTY_PATH);
        expect_eperm("open-tree-bind", r, errno, "open_tree(CLONE)+move_mount onto /x");
        close(tfd);
    }

    int pfd = syscall(SYS_fspick, AT_FDCWD, "/", FSPICK_CLOEXEC);
    if (pfd < 0) {
        result("fspick-reconfigure-root", false, "fspick / failed: %s", strerror(errno));
    } else {
        r = syscall(SYS_fsconfig, pfd, FSCONFIG_CMD_RECONFIGURE, NULL, NULL, 0);
        expect_eperm("fspick-reconfigure-root", r, errno, "fspick / + FSCONFIG_CMD_RECONFIGURE");
        close(pfd);
    }

    struct mount_attr attr = {.attr_clr = MOUNT_ATTR_NOEXEC};
    r = syscall(SYS_mount_setattr, AT_FDCWD, "/w", 0, &attr, sizeof(attr));
    int err = errno;
    struct statvfs sv;
    bool still_noexec = statvfs("/w", &sv) == 0 && (sv.f_flag & ST_NOEXEC);
    if (r == -1 && err == EPERM && still_noexec)
        result("mount-setattr-clear-noexec", true, "mount_setattr clearing noexec on /w refused, /w still noexec");
    else
        expect_eperm("mount-setattr-clear-noexec", r == -1 ? -1 : 0, r == -1 ? err : 0,
                     "mount_setattr clearing noexec on /w");

    r = syscall(SYS_umount2, "/scratch", 0);
    int e1 = errno;
    long r2 = syscall(SYS_umount2, "/scratch", MNT_DETACH);
    int e2 = errno;
    if (r == -1 && e1 == EPERM && r2 == -1 && e2 == EPERM)
        result("umount", true, "umount and umount -l of /scratch refused with EPERM");
    else
        result("umount", false, "umount: %s, umount -l: %s", r ? strerror(e1) : "succeeded",
               r2 ? strerror(e2) : "succeeded");

    r = syscall(SYS_pivot_root, "/w", "/w");
    expect_eperm("pivot-root", r, errno, "pivot_root /w /w");

    chroot_rule("chroot-whitelisted", "/jail/a", true);
    chroot_rule("chroot-elsewhere", "/x", false);
    chroot_rule("chroot-symlink", "/link", false);
    chroot_rule("chroot-symlink-to-whitelisted", "/jlink", true);

    r = write_file(SECFS "/policy", "chroot /x\n");
    int pe = errno;
    long r3 = write_file(SECFS "/policy", "seal\n");
    int pe3 = errno;
    if (r == -1 && pe == EPERM && r3 == -1 && pe3 == EPERM)
        result("policy-write-after-seal", true, "policy writes after seal refused with EPERM");
    else
        result("policy-write-after-seal", false, "policy write: %s, second seal: %s",
               r ? strerror(pe) : "ACCEPTED", r3 ? strerror(pe3) : "ACCEPTED");

    int code = in_child(child_other_ns, NULL);
    result("mount-other-namespace", code == 0,
           code == 0 ? "in a new mount namespace: /x refused, whitelisted /w3 allowed"
           : code == 10 ? "unshare(CLONE_NEWNS) failed"
           : code == 11 ? "mount on /x was not refused with EPERM"
                        : "whitelisted mount on /w3 failed");

    char *status = read_file(SECFS "/status");
    bool ok = status && strstr(status, "mode: enforce") && strstr(status, "sealed: yes") &&
              strstr(status, "mount tmpfs /w nosuid,nodev,noexec") &&
              strstr(status, "chroot /jail/a") && strstr(status, "counters:");
    result("status-file", ok, ok ? "status shows mode, seal, policy and counters"
                                 : "status incomplete or unreadable");
}

/* ---- exec lock rules ---- */

static int child_lock_execve(void *arg) {
    (void)arg;
    if (lock_self_securityfs() != 0) return 3;
    return try_execve();
}

static int child_lock_execveat(void *arg) {
    (void)arg;
    if (prctl(PR_ROMLOCK_EXEC_LOCK, 0, 0, 0, 0) != 0) return 3;
    int dfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    syscall(SYS_execveat, dfd, "init", probe_argv, probe_envp, 0);
    return errno == EPERM ? 0 : 1;
}

static int make_memfd_copy(void) {
    int mfd = memfd_create("probe", MFD_CLOEXEC);
    int src = open("/init", O_RDONLY | O_CLOEXEC);
    if (mfd < 0 || src < 0) return -1;
    char buf[65536];
    ssize_t n;
    while ((n = read(src, buf, sizeof(buf))) > 0)
        if (write(mfd, buf, n) != n) return -1;
    close(src);
    return mfd;
}

static int child_fexecve(void *lock) {
    int mfd = make_memfd_copy();
    if (mfd < 0) return 4;
    if (lock && lock_self_securityfs() != 0) return 3;
    fexecve(mfd, probe_argv, probe_envp);
    return errno == EPERM ? 0 : 1;
}

/* Self-locked child; its child and grandchild (forked after the lock) try execve. */
static int grandchild_level(int depth) {
    int own = try_execve();
    if (depth == 0) return own;
    pid_t pid = fork();
    if (pid == 0) _exit(grandchild_level(depth - 1));
    int below = wait_code(pid);
    /* bit 0: this level escaped or odd error; bit 1: the level below did */
    return (own ? 1 : 0) | (below ? 2 : 0);
}

static int child_lock_then_fork(void *arg) {
    (void)arg;
    if (prctl(PR_ROMLOCK_EXEC_LOCK, 0, 0, 0, 0) != 0) return 100;
    pid_t pid = fork();
    if (pid == 0) _exit(grandchild_level(1));
    return wait_code(pid);
}

struct thread_arg {
    int go_fd;
    int code;
};

static void *thread_exec(void *p) {
    struct thread_arg *a = p;
    char c;
    if (read(a->go_fd, &c, 1) != 1) {
        a->code = 5;
        return NULL;
    }
    a->code = try_execve();
    return NULL;
}

static int child_threads(void *arg) {
    (void)arg;
    int go[2];
    if (pipe2(go, O_CLOEXEC) != 0) return 6;
    struct thread_arg a = {go[0], -1};
    pthread_t t;
    if (pthread_create(&t, NULL, thread_exec, &a) != 0) return 7;
    /* The thread exists before the lock: the lock must cover it. */
    if (prctl(PR_ROMLOCK_EXEC_LOCK, 0, 0, 0, 0) != 0) return 3;
    if (write(go[1], "g", 1) != 1) return 8;
    pthread_join(t, NULL);
    return a.code;
}

/* As nobody: locking another process (PID 1) is refused, locking itself works. */
static int child_unprivileged(void *arg) {
    (void)arg;
    if (setgid(65534) != 0 || setuid(65534) != 0) return 20;
    if (write_file(SECFS "/exec_lock", "1") == 0) return 21;
    if (errno != EPERM) return 22;
    if (prctl(PR_ROMLOCK_EXEC_LOCK, 1, 0, 0, 0) == 0) return 23;
    if (lock_self_securityfs() != 0) return 24;
    return try_execve();
}

static void run_exec_rules(void) {
    int code;

    code = in_child(child_lock_execve, NULL);
    result("exec-self-lock-execve", code == 0, "self-lock via securityfs, then %s",
           code == 3 ? "lock write failed" : exec_code_text(code));

    code = in_child(child_lock_execveat, NULL);
    result("exec-self-lock-execveat", code == 0, "self-lock via prctl, then execveat: %s",
           code == 3 ? "prctl failed" : exec_code_text(code));

    int control = in_child(child_fexecve, NULL);
    code = in_child(child_fexecve, (void *)1);
    result("exec-self-lock-fexecve-memfd", control == PROBE_EXIT && code == 0,
           "unlocked fexecve of a memfd: %s; after self-lock: %s",
           control == PROBE_EXIT ? "ran" : "did not run", exec_code_text(code));

    code = in_child(child_lock_then_fork, NULL);
    /* status: 0 both refused, bit 0 the child, bit 1 the grandchild did not get EPERM */
    bool child_ok = code == 0 || code == 2, grandchild_ok = code == 0 || code == 1;
    result("exec-child-after-lock", child_ok, "child forked after the lock: %s (status %d)",
           child_ok ? "refused" : "NOT refused", code);
    result("exec-grandchild-after-lock", grandchild_ok,
           "grandchild forked after the lock: %s (status %d)",
           grandchild_ok ? "refused" : "NOT refused", code);

    /* Pid lock by root: C and its child D exist before the lock, both wait for "go". */
    int go[2];
    if (pipe2(go, O_CLOEXEC) != 0) {
        result("exec-child-before-pidlock", false, "pipe failed");
    } else {
        pid_t c = fork();
        if (c == 0) {
            close(go[1]);
            pid_t d = fork();
            char ch;
            if (d == 0) {
                if (read(go[0], &ch, 1) != 0) _exit(9);
                _exit(try_execve());
            }
            if (read(go[0], &ch, 1) != 0) _exit(9);
            int own = try_execve();
            int dcode = wait_code(d);
            _exit((own ? 1 : 0) | (dcode ? 2 : 0));
        }
        close(go[0]);
        char pidbuf[32];
        snprintf(pidbuf, sizeof(pidbuf), "%d", c);
        int lr = write_file(SECFS "/exec_lock", pidbuf);
        close(go[1]);
        code = wait_code(c);
        result("exec-child-before-pidlock", lr == 0 && code == 0,
               "root locked pid %d: lock %s; it %s; its child forked before the lock %s", c,
               lr == 0 ? "ok" : strerror(errno),
               (code == 0 || code == 2) ? "was refused" : "was NOT refused",
               (code == 0 || code == 1) ? "was refused" : "was NOT refused");
    }

    code = in_child(child_threads, NULL);
    result("exec-other-threads", code == 0, "a thread created before the lock: %s",
           exec_code_text(code));

    /* Fork race: C forks in a tight loop while root locks it, then exits (its children are
     * reparented to us). Every one of them, forked before, during or after the lock, must
     * be refused. */
    enum { RACE_CHILDREN = 64 };
    int ready[2], release[2];
    if (pipe2(ready, O_CLOEXEC) != 0 || pipe2(release, O_CLOEXEC) != 0) {
        result("exec-fork-race", false, "pipe failed");
    } else {
        pid_t c = fork();
        if (c == 0) {
            close(ready[0]);
            close(release[1]);
            for (int i = 0; i < RACE_CHILDREN; i++) {
                pid_t g = fork();
                if (g == 0) {
                    char ch;
                    if (read(release[0], &ch, 1) != 0) _exit(9);
                    _exit(try_execve());
                }
                if (i == 0 && write(ready[1], "r", 1) != 1) _exit(8);
            }
            _exit(0);
        }
        close(ready[1]);
        close(release[0]);
        char ch;
        bool started = read(ready[0], &ch, 1) == 1;
        char pidbuf[32];
        snprintf(pidbuf, sizeof(pidbuf), "%d", c);
        int lr = write_file(SECFS "/exec_lock", pidbuf);
        int lerr = errno;
        int ccode = wait_code(c); /* C has exited: its children now belong to PID 1 */
        close(release[1]);
        int refused = 0, escaped = 0, other = 0, st;
        pid_t w;
        while ((w = waitpid(-1, &st, 0)) > 0) {
            int gc = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
            if (gc == 0) refused++;
            else if (gc == PROBE_EXIT) escaped++;
            else other++;
        }
        close(ready[0]);
        bool ok = started && lr == 0 && ccode == 0 && refused == RACE_CHILDREN;
        result("exec-fork-race", ok,
               "lock %s while forking %d children, then the parent exited: %d refused, %d "
               "escaped, %d other",
               lr == 0 ? "set" : strerror(lerr), RACE_CHILDREN, refused, escaped, other);
    }

    code = in_child(child_plain_execve, NULL);
    result("exec-unlocked-sibling", code == PROBE_EXIT,
           "an unlocked sibling of the locked children: %s",
           code == PROBE_EXIT ? "execve ran" : exec_code_text(code));

    code = in_child(child_unprivileged, NULL);
    result("exec-lock-unprivileged", code == 0,
           code == 0    ? "as uid 65534: locking pid 1 refused (securityfs and prctl), self-lock works"
           : code == 21 ? "as uid 65534: locking pid 1 was ACCEPTED"
           : code == 23 ? "as uid 65534: prctl lock of pid 1 was ACCEPTED"
           : code == PROBE_EXIT ? "as uid 65534: self-locked but execve ran"
                                : "as uid 65534: unexpected failure (status %d)",
           code);
}

/* ---- the kernel log ---- */

static char *kernel_log(void) {
    static char buf[1 << 17];
    int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, sizeof(buf) - 1);
    if (n < 0) return NULL;
    buf[n] = '\0';
    return buf;
}

static void dump_romlock_log(void) {
    char *log = kernel_log();
    if (!log) return;
    for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n"))
        if (strstr(line, "romlock"))
            say("ROMLOCK-DMESG %s", line);
}

static void check_log_lines(const char *rule, const char *const *want) {
    char *log = kernel_log();
    if (!log) {
        result(rule, false, "klogctl failed: %s", strerror(errno));
        return;
    }
    for (; *want; want++) {
        if (!strstr(log, *want)) {
            result(rule, false, "missing kernel log line: %s", *want);
            return;
        }
    }
    result(rule, true, "the expected romlock log lines are in the kernel log");
}

/* ---- root inside a jail (issue 21), after the seal ---- */

/* In a child: chroot into /jail/a (a policy jail: from now on this process is jailed), as root
 * with every capability, then fn. */
static int jailed(int (*fn)(void)) {
    if (chroot("/jail/a") != 0 || chdir("/") != 0) return 90;
    return fn();
}
static int j_unshare(void) { return unshare(CLONE_NEWNS) == -1 && errno == EPERM ? 0 : 1; }
static int j_sethostname(void) { return sethostname("x", 1) == -1 && errno == EPERM ? 0 : 1; }
static int j_mknod(void) { return mknod("/mem", S_IFCHR | 0600, makedev(1, 1)) == -1 && errno == EPERM ? 0 : 1; }
static int j_chroot_again(void) { return chroot("/") == -1 && errno == EPERM ? 0 : 1; }
static int j_kill_init(void) { return kill(1, 0) == -1 && errno == EPERM ? 0 : 1; }
static int j_syslog(void) {
    char buf[64];
    return klogctl(3, buf, sizeof buf) == -1 && errno == EPERM ? 0 : 1;
}
static int j_same_jail_signal(void) {
    pid_t c = fork();
    if (c == 0) {
        pause();
        _exit(0);
    }
    int ok = kill(c, 0) == 0 && kill(c, SIGKILL) == 0;
    waitpid(c, NULL, 0);
    return ok ? 0 : 1;
}
static int child_jail(void *fn) { return jailed((int (*)(void))fn); }

/* /proc/1/root through a /proc fd opened before entering the jail. */
static int child_proc_root(void *arg) {
    (void)arg;
    int proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (chroot("/jail/a") != 0) return 90;
    int fd = openat(proc, "1/root/init", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) return 1;
    return errno == EPERM || errno == EACCES ? 0 : 2;
}

static int child_start_lock(void *allow_self) {
    /* Arm a start lock on ourselves through a forked helper (init writes it for its child). */
    int gate[2];
    if (pipe(gate) != 0) return 91;
    pid_t me = getpid(), h = fork();
    if (h == 0) {
        char line[128];
        snprintf(line, sizeof line, "start_lock %d%s", me, allow_self ? " /init" : "");
        _exit(write_file(SECFS "/jail", line) == 0 ? 0 : 1);
    }
    if (wait_code(h) != 0) return 92;
    static char *const argv[] = {"/init", "--exec-probe", NULL};
    execve("/init", argv, probe_envp); /* the first exec: allowed */
    return 93;
}

static void run_jail_rules(void) {
    struct { const char *rule, *what; int (*fn)(void); } cases[] = {
        {"jail-unshare-mount-ns", "unshare(CLONE_NEWNS) as root in a jail", j_unshare},
        {"jail-cap-sys-admin", "sethostname (cap_sys_admin) as root in a jail", j_sethostname},
        {"jail-mknod", "mknod 1:1 as root in a jail", j_mknod},
        {"jail-chroot-again", "a second chroot as root in a jail", j_chroot_again},
        {"jail-signal-init", "kill(1, 0) from a jail", j_kill_init},
        {"jail-syslog", "syslog(READ_ALL) from a jail", j_syslog},
        {"jail-signal-same-jail", "signal a process of the same jail (allowed)", j_same_jail_signal},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int code = in_child(child_jail, (void *)cases[i].fn);
        result(cases[i].rule, code == 0, "%s: %s", cases[i].what,
               code == 0 ? "as expected" : code == 90 ? "could not enter the jail" : "NOT as expected");
    }
    int code = in_child(child_proc_root, NULL);
    result("jail-proc-root", code == 0, "/proc/1/root from a jail: %s",
           code == 0 ? "refused" : code == 1 ? "OPENED" : "other error");

    long r = sys_mount("tmpfs", "/w4", "tmpfs", WRITABLE, NULL);
    expect_eperm("overmount-policy-dir", r, errno, "mount tmpfs over /w4 (mounted, then its rule written)");

    int fd = open("/dev/loop0", O_RDWR | O_CLOEXEC);
    int e = errno;
    if (fd >= 0) close(fd);
    expect_eperm("blockdev-write-after-seal", fd, e, "open /dev/loop0 read-write after the seal");
    fd = open("/dev/loop0", O_RDONLY | O_CLOEXEC);
    long ir = fd < 0 ? -2 : ioctl(fd, 0x4C06 /* LOOP_CHANGE_FD */, 0);
    e = errno;
    if (fd >= 0) close(fd);
    if (ir == -2) result("loop-ioctl-after-seal", false, "cannot open /dev/loop0: %s", strerror(e));
    else expect_eperm("loop-ioctl-after-seal", ir, e, "LOOP_CHANGE_FD on /dev/loop0 after the seal");

    code = in_child(child_start_lock, NULL);
    result("start-lock", code == 0, "start lock, nothing allowed: the first exec runs, its exec then: %s",
           code == 0 ? "refused" : code == PROBE_EXIT ? "RAN" : "unexpected");
    code = in_child(child_start_lock, (void *)1);
    result("start-lock-allowed", code == PROBE_EXIT, "start lock allowing /init: its exec then: %s",
           code == PROBE_EXIT ? "ran" : code == 0 ? "REFUSED" : "unexpected");

    /* kill: a jailed process and its daemonized grandchild both go. */
    int p[2];
    if (pipe(p) != 0) return;
    pid_t c = fork();
    if (c == 0) {
        if (chroot("/jail/b") != 0) _exit(90);
        pid_t g = fork();
        if (g == 0) {
            setsid();
            for (;;) pause();
        }
        (void)!write(p[1], &g, sizeof g);
        for (;;) pause();
    }
    pid_t g = 0;
    (void)!read(p[0], &g, sizeof g);
    close(p[0]);
    close(p[1]);
    bool written = write_file(SECFS "/jail", "kill /jail/b") == 0;
    int st1 = 0, st2 = 0;
    waitpid(c, &st1, 0);
    waitpid(g, &st2, 0); /* re-parented to us, PID 1 */
    bool both = WIFSIGNALED(st1) && WTERMSIG(st1) == SIGKILL && WIFSIGNALED(st2) && WTERMSIG(st2) == SIGKILL;
    result("kill-jail", written && both, "kill /jail/b: %s",
           !written ? "write refused" : both ? "the jailed process and its setsid grandchild were killed" : "something survived");
}

/* ---- boot ---- */

static void setup_tree(void) {
    const char *dirs[] = {"/proc", "/sys", "/dev", "/w", "/w2", "/w3", "/w4", "/x", "/scratch", "/ro",
                          "/jail", "/jail/a", "/jail/b"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) mkdir(dirs[i], 0755);
    symlink("/x", "/link");
    symlink("/jail/a", "/jlink");
    sys_mount("proc", "/proc", "proc", WRITABLE, NULL);
    sys_mount("sysfs", "/sys", "sysfs", WRITABLE, NULL);
    sys_mount("securityfs", "/sys/kernel/security", "securityfs", WRITABLE, NULL);
    sys_mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC, NULL);
}

static const char policy[] =
    "# romlock test policy\n"
    "mount tmpfs /w nosuid,nodev,noexec\n"
    "mount tmpfs /w2 nosuid,nodev,noexec\n"
    "mount tmpfs /w3 nosuid,nodev,noexec\n"
    "mount tmpfs /w4 nosuid,nodev,noexec\n"
    "chroot /jail/a\n"
    "chroot /jail/b\n";

static bool load_policy(void) {
    if (write_file(SECFS "/policy", policy) != 0) {
        result("policy-load", false, "writing the policy failed: %s", strerror(errno));
        return false;
    }
    if (write_file(SECFS "/policy", "seal\n") != 0) {
        result("policy-load", false, "seal failed: %s", strerror(errno));
        return false;
    }
    result("policy-load", true, "policy written and sealed");
    return true;
}

static void run_enforce(void) {
    /* Before the seal anything goes: a mount with no flags on a dir the policy never names. */
    long r = sys_mount("tmpfs", "/scratch", "tmpfs", 0, NULL);
    expect_ok("allowed-before-seal", r, errno, "before seal: mount tmpfs /scratch (no flags)");
    sys_mount("tmpfs", "/ro", "tmpfs", MS_RDONLY, NULL);
    /* As appliance init does: mounted first, its rule written afterwards. */
    sys_mount("tmpfs", "/w4", "tmpfs", WRITABLE, NULL);

    if (!load_policy()) return;
    run_mount_rules();
    run_exec_rules();
    run_jail_rules();
    static const char *const want[] = {
        "romlock: ALLOW mount tmpfs on /w with options nosuid nodev noexec pid=1 comm=init",
        "romlock: DENY mount tmpfs on /x (not in policy) pid=1 comm=init",
        "romlock: DENY mount tmpfs on /w2 (missing noexec required by policy)",
        "romlock: DENY mount tmpfs on /w (on top of an existing mount)",
        "romlock: DENY remount / (",
        "romlock: DENY umount /scratch",
        "romlock: DENY pivot_root",
        "romlock: DENY fsmount tmpfs (detached mounts are refused once sealed)",
        "romlock: DENY move_mount",
        "romlock: DENY chroot /x (not in policy)",
        "romlock: ALLOW chroot /jail/a",
        "romlock: DENY exec /init (exec-locked)",
        "romlock: DENY policy write (sealed)",
        "romlock: DENY capability cap_sys_admin (stripped in jail /jail/a)",
        "romlock: DENY signal 0 to pid 1 (outside jail /jail/a)",
        "romlock: DENY capability cap_syslog (stripped in jail /jail/a)", /* dmesg_restrict asks first */
        "romlock: DENY open block device /dev/loop0 for writing",
        "romlock: ALLOW kill jail /jail/b",
        NULL,
    };
    check_log_lines("log-lines", want);
}

static int child_permissive_exec(void *arg) {
    (void)arg;
    if (lock_self_securityfs() != 0) return 3;
    return try_execve();
}

static void run_permissive(void) {
    if (!load_policy()) return;
    long r = sys_mount("tmpfs", "/x", "tmpfs", 0, NULL);
    expect_ok("permissive-mount-allowed", r, errno, "after seal: mount tmpfs /x (not in policy)");

    int code = in_child(child_chroot, "/x");
    result("permissive-chroot-allowed", code == 0, "chroot /x: %s",
           code == 0 ? "allowed" : "refused");

    code = in_child(child_permissive_exec, NULL);
    result("permissive-exec-allowed", code == PROBE_EXIT, "exec after self-lock: %s",
           exec_code_text(code));

    r = write_file(SECFS "/policy", "chroot /x\n");
    expect_eperm("permissive-seal-holds", r, errno, "policy write after seal");

    static const char *const want[] = {
        "romlock: WOULD-DENY mount tmpfs on /x (not in policy)",
        "romlock: WOULD-DENY chroot /x (not in policy)",
        "romlock: WOULD-DENY exec /init (exec-locked)",
        NULL,
    };
    check_log_lines("permissive-logged", want);
}

/* romlock built in but left out of lsm=: no interface, so nobody can believe a policy is
 * enforced when it is not. */
static void run_disabled(void) {
    struct stat st;
    bool absent = stat(SECFS, &st) != 0 && errno == ENOENT;
    result("disabled-no-interface", absent, "%s",
           absent ? SECFS " does not exist when romlock is not in lsm="
                  : SECFS " exists although romlock is not enabled");
}

/* ROMLOCK_TEST=watchdog on the command line: arm the hardware watchdog (QEMU's i6300esb) for a
 * few seconds, pet it once and then never again, as a hung PID 1 would. reboots.sh
 * expects the machine to be reset by it (a second kernel banner), not to hang. */
static void run_watchdog_stall(void) {
    mkdir("/dev", 0755);
    sys_mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID | MS_NOEXEC, NULL);
    int fd = open("/dev/watchdog", O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        say("WATCHDOG-MISSING /dev/watchdog: %s", strerror(errno));
        reboot(RB_POWER_OFF);
        for (;;) pause();
    }
    int timeout = 6;
    if (ioctl(fd, WDIOC_SETTIMEOUT, &timeout) != 0) say("WATCHDOG-SETTIMEOUT failed: %s", strerror(errno));
    ioctl(fd, WDIOC_GETTIMEOUT, &timeout);
    struct watchdog_info info = {0};
    ioctl(fd, WDIOC_GETSUPPORT, &info);
    ioctl(fd, WDIOC_KEEPALIVE, 0);
    say("WATCHDOG-ARMED %s timeout=%d s; not petting it again", (const char *)info.identity, timeout);
    for (;;) pause(); /* fd stays open: no magic close, so the timer keeps running */
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--probe") == 0) return PROBE_EXIT;
    if (argc > 1 && strcmp(argv[1], "--exec-probe") == 0) return try_execve(); /* start-lock tests */
    say("ROMLOCK-TEST-INIT-START");
    /* ROMLOCK_TEST=watchdog on the kernel command line reaches init's environment. */
    const char *test = getenv("ROMLOCK_TEST");
    if (test && strcmp(test, "watchdog") == 0) run_watchdog_stall();
    setup_tree();
    char *cmdline = read_file("/proc/cmdline");
    bool permissive = cmdline && strstr(cmdline, "romlock.mode=permissive");
    bool disabled = cmdline && strstr(cmdline, "lsm=") && !strstr(cmdline, "romlock,") &&
                    !strstr(cmdline, ",romlock");
    say("ROMLOCK-TEST-MODE %s", disabled ? "disabled" : permissive ? "permissive" : "enforce");
    if (disabled)
        run_disabled();
    else if (permissive)
        run_permissive();
    else
        run_enforce();
    dump_romlock_log();
    say("ROMLOCK-TEST-DONE failures=%d", failures);
    sync();
    reboot(RB_POWER_OFF);
    for (;;) pause();
}
