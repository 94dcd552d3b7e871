/* Tracer hard cases (DESIGN.md §6): one small program, one case per argument. Each case
 * touches known files under DIR and prints what it touched as "EXPECT <kind> <path>" lines,
 * with paths resolved by libc's realpath(3) — an implementation independent of romimg's. The
 * checker (check.cc) asserts the trace reports at least these, with the right usage. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

static const char* D;
static char buf[PATH_MAX * 2];

static const char* P(const char* rel) { /* DIR/rel */
    static char out[8][PATH_MAX];
    static int n;
    char* o = out[n++ % 8];
    snprintf(o, PATH_MAX, "%s/%s", D, rel);
    return o;
}
static void expect(const char* kind, const char* path) {
    char r[PATH_MAX];
    printf("EXPECT %s %s\n", kind, realpath(path, r) ? r : path);
    fflush(stdout);
}
static void expect_raw(const char* kind, const char* path) {
    printf("EXPECT %s %s\n", kind, path);
    fflush(stdout);
}
static void touch(const char* path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) close(fd);
}
static void slurp(int fd) {
    while (read(fd, buf, sizeof buf) > 0) {}
    close(fd);
}
static void run_and_wait(pid_t pid) {
    int st;
    if (pid > 0) waitpid(pid, &st, 0);
}

static void* thread_open(void* arg) {
    slurp(open((const char*)arg, O_RDONLY | O_CLOEXEC));
    return NULL;
}
static void* thread_exec(void* arg) {
    (void)arg;
    char* argv[] = {"true", NULL};
    execv("/bin/true", argv);
    _exit(127);
}

int main(int argc, char** argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: tracer-cases CASE DIR\n");
        return 2;
    }
    const char* c = argv[1];
    D = argv[2];

    if (!strcmp(c, "setup")) { /* run untraced, by the checker: fixtures on the host */
        mkdir(P("sub"), 0755);
        mkdir(P("dir"), 0755);
        mkdir(P("x"), 0755);
        mkdir(P("x/y"), 0755);
        touch(P("file"));
        touch(P("sub/file"));
        touch(P("dir/one"));
        touch(P("dir/two"));
        touch(P("x/file"));
        touch(P("c"));
        touch(P("f"));
        for (int i = 0; i < 4; ++i) {
            char n[32];
            snprintf(n, sizeof n, "t%d", i);
            touch(P(n));
        }
        symlink("b", P("a"));
        symlink("c", P("b"));
        symlink("x/y", P("l"));
        FILE* s = fopen(P("script.sh"), "w");
        fprintf(s, "#!/bin/sh\nexit 0\n");
        fclose(s);
        chmod(P("script.sh"), 0755);
        s = fopen(P("envscript"), "w");
        fprintf(s, "#!/usr/bin/env sh\nexit 0\n");
        fclose(s);
        chmod(P("envscript"), 0755);
        s = fopen(P("nested"), "w");
        fprintf(s, "#!%s\n", P("script.sh"));
        fclose(s);
        chmod(P("nested"), 0755);
        return 0;
    }
    if (!strcmp(c, "openat-dirfd")) {
        int dfd = open(D, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        slurp(openat(dfd, "sub/file", O_RDONLY | O_CLOEXEC));
        expect("read", P("sub/file"));
    } else if (!strcmp(c, "chdir-relative")) {
        if (chdir(P("sub")) != 0) return 1;
        expect("chdir", P("sub"));
        slurp(open("file", O_RDONLY | O_CLOEXEC));
        expect("read", P("sub/file"));
        int dfd = open(D, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fchdir(dfd) != 0) return 1;
        slurp(open("x/file", O_RDONLY | O_CLOEXEC));
        expect("read", P("x/file"));
    } else if (!strcmp(c, "fork-exec")) {
        pid_t p = fork();
        if (p == 0) {
            execl("/bin/true", "true", "fork-exec-arg", (char*)NULL);
            _exit(127);
        }
        run_and_wait(p);
        expect("exec", "/bin/true");
        expect_raw("argv", "fork-exec-arg");
    } else if (!strcmp(c, "vfork")) {
        pid_t p = vfork();
        if (p == 0) {
            execl("/bin/true", "true", "vfork-arg", (char*)NULL);
            _exit(127);
        }
        run_and_wait(p);
        expect("exec", "/bin/true");
        expect_raw("argv", "vfork-arg");
    } else if (!strcmp(c, "threads")) {
        pthread_t t[4];
        for (int i = 0; i < 4; ++i) {
            char n[8];
            snprintf(n, sizeof n, "t%d", i);
            pthread_create(&t[i], NULL, thread_open, strdup(P(n)));
        }
        for (int i = 0; i < 4; ++i) pthread_join(t[i], NULL);
        for (int i = 0; i < 4; ++i) {
            char n[8];
            snprintf(n, sizeof n, "t%d", i);
            expect("read", P(n));
        }
    } else if (!strcmp(c, "thread-execve")) {
        expect("exec", "/bin/true"); /* printed first: the exec replaces this process */
        pthread_t t;
        pthread_create(&t, NULL, thread_exec, NULL);
        pthread_join(t, NULL);
        return 1;
    } else if (!strcmp(c, "daemon")) {
        expect("read", P("file"));
        pid_t p = fork();
        if (p == 0) {
            setsid();
            if (fork() != 0) _exit(0);
            usleep(300000); /* after its parents are gone */
            slurp(open(P("file"), O_RDONLY | O_CLOEXEC));
            _exit(0);
        }
        run_and_wait(p);
    } else if (!strcmp(c, "shebang")) {
        pid_t p = fork();
        if (p == 0) {
            execl(P("script.sh"), "script.sh", (char*)NULL);
            _exit(127);
        }
        run_and_wait(p);
        expect("exec", P("script.sh"));
        expect("exec", "/bin/sh");
        expect("interp", "/bin/sh");
        p = fork();
        if (p == 0) {
            execl(P("envscript"), "envscript", (char*)NULL);
            _exit(127);
        }
        run_and_wait(p);
        expect("exec", P("envscript"));
        expect("interp", "/usr/bin/env");
        p = fork();
        if (p == 0) {
            execl(P("nested"), "nested", (char*)NULL);
            _exit(127);
        }
        run_and_wait(p);
        expect("exec", P("nested"));
        expect("interp", P("script.sh"));
    } else if (!strcmp(c, "symlink-chain")) {
        slurp(open(P("a"), O_RDONLY | O_CLOEXEC));
        expect_raw("follow", P("a"));
        expect_raw("follow", P("b"));
        expect("read", P("c"));
    } else if (!strcmp(c, "stat-family")) {
        struct statx stx;
        struct stat st;
        statx(AT_FDCWD, P("file"), 0, STATX_BASIC_STATS, &stx);
        expect("stat", P("file"));
        fstatat(AT_FDCWD, P("sub/file"), &st, 0);
        expect("stat", P("sub/file"));
        int fd = open(P("x"), O_PATH | O_CLOEXEC);
        fstatat(fd, "", &st, AT_EMPTY_PATH);
        expect("stat", P("x"));
        syscall(SYS_faccessat2, AT_FDCWD, P("x/file"), R_OK, AT_EACCESS);
        expect("stat", P("x/file"));
        struct open_how how = {.flags = O_RDONLY | O_CLOEXEC};
        slurp((int)syscall(SYS_openat2, AT_FDCWD, P("f"), &how, sizeof how));
        expect("read", P("f"));
        access(P("missing"), F_OK);
        expect_raw("stat-failed", P("missing"));
    } else if (!strcmp(c, "getdents")) {
        int fd = open(P("dir"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        while (syscall(SYS_getdents64, fd, buf, sizeof buf) > 0) {}
        close(fd);
        expect("list", P("dir"));
    } else if (!strcmp(c, "tree-ops")) {
        mkdir(P("newdir"), 0755);
        expect_raw("create", P("newdir"));
        touch(P("newdir/old"));
        rename(P("newdir/old"), P("newdir/new"));
        expect_raw("remove", P("newdir/old"));
        expect_raw("create", P("newdir/new"));
        link(P("f"), P("newdir/hard"));
        expect("link", P("f"));
        expect_raw("create", P("newdir/hard"));
        symlink("f", P("newdir/soft"));
        expect_raw("create", P("newdir/soft"));
        unlink(P("newdir/new"));
        expect_raw("remove", P("newdir/new"));
        truncate(P("f"), 0);
        expect("write", P("f"));
        rmdir(P("x/y"));
        expect_raw("remove", P("x/y"));
    } else if (!strcmp(c, "unix-socket")) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        snprintf(sa.sun_path, sizeof sa.sun_path, "%s", P("sock"));
        int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        bind(s, (struct sockaddr*)&sa, sizeof sa);
        listen(s, 1);
        int c2 = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        connect(c2, (struct sockaddr*)&sa, sizeof sa);
        expect_raw("bind", P("sock"));
        expect_raw("connect", P("sock"));
        expect_raw("syscall", "bind"); /* on i386, socketcall(SYS_BIND) named by its subcall */
        expect_raw("syscall", "listen");
    } else if (!strcmp(c, "readlink")) {
        char t[PATH_MAX];
        ssize_t n = readlink(P("a"), t, sizeof t);
        (void)n;
        expect_raw("readlink", P("a"));
    } else if (!strcmp(c, "proc-self-fd")) {
        int fd = open(P("f"), O_RDONLY | O_CLOEXEC);
        char p[64];
        snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
        slurp(open(p, O_RDONLY | O_CLOEXEC));
        expect("read", P("f"));
    } else if (!strcmp(c, "dotdot-symlink")) {
        /* l -> x/y, so l/.. is x (the kernel follows l first), not DIR. */
        slurp(open(P("l/../file"), O_RDONLY | O_CLOEXEC));
        expect("read", P("x/file"));
        expect_raw("follow", P("l"));
    } else if (!strcmp(c, "setuid")) {
        if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) return 1;
        access(P("file"), R_OK);
        expect_raw("uid", "65534");
    } else if (!strcmp(c, "execveat")) {
        int fd = open("/bin/true", O_PATH | O_CLOEXEC);
        expect("exec", "/bin/true");
        char* av[] = {"true", NULL};
        char* ev[] = {NULL};
        syscall(SYS_execveat, fd, "", av, ev, AT_EMPTY_PATH);
        return 1;
    } else if (!strcmp(c, "machine")) {
        /* The service sees its own ABI's machine (the appliance's kernel is that arch). */
        struct utsname u;
        uname(&u);
        access(P(u.machine), F_OK);
        expect_raw("stat-failed", P(EXPECT_MACHINE));
    } else if (!strcmp(c, "abi-calls")) {
        /* Each ABI's own calls for the same operations, made directly (glibc 2.36 prefers
         * statx and the *at calls, so these would not otherwise be seen). */
        struct stat st;
        struct statfs sf;
#ifdef __i386__
        char st64[144];
        syscall(SYS_stat64, P("file"), st64);
        syscall(SYS_lstat64, P("a"), st64);
        syscall(SYS_fstatat64, AT_FDCWD, P("sub/file"), st64, 0);
        syscall(SYS_chown32, P("c"), 0, 0);
        syscall(SYS_lchown32, P("b"), 0, 0);
        syscall(SYS_truncate64, P("f"), 0, 0);
        struct statfs64 sf64;
        syscall(SYS_statfs64, P("x"), sizeof sf64, &sf64);
        expect_raw("syscall", "stat64");
        expect_raw("syscall", "fstatat64");
        expect_raw("syscall", "chown32");
        expect_raw("syscall", "statfs64");
        (void)st;
        (void)sf;
#else
        syscall(SYS_stat, P("file"), &st);
        syscall(SYS_lstat, P("a"), &st);
        syscall(SYS_newfstatat, AT_FDCWD, P("sub/file"), &st, 0);
        syscall(SYS_chown, P("c"), 0, 0);
        syscall(SYS_lchown, P("b"), 0, 0);
        syscall(SYS_truncate, P("f"), 0);
        syscall(SYS_statfs, P("x"), &sf);
        expect_raw("syscall", "newfstatat");
#endif
        expect("stat", P("file"));
        expect_raw("stat", P("a"));
        expect("stat", P("sub/file"));
        expect("setattr", P("c"));
        expect_raw("setattr", P("b"));
        expect("write", P("f"));
        expect("stat", P("x"));
    } else {
        fprintf(stderr, "unknown case %s\n", c);
        return 2;
    }
    return 0;
}
