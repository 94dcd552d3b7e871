/* Test-only appliance service (e2e): tries to write where a tamper-proof appliance must refuse,
 * prints one "ROOTWRITE <path> <result>" line per attempt (init echoes service output on the
 * console with --log-console), then listens on 127.0.0.1:9099 so init's ready check and exec
 * lock apply to it like any service. /run/rootwrite (a tmpfs area of its jail) is the positive
 * control. With a content layer at /srv/content (the e2e content test), it also reads its index
 * and tries to overwrite it and add a file beside it: a content layer is read-only. Then it uses
 * each device its jail has (the four every jail gets, and /dev/full from its template) the way
 * daemons do: "ROOTWRITE dev:PATH OK" or the errno name (issue 12: dead devices). Last, the
 * facts of its confinement ("ROOTWRITE fact:..."): the same program prints them under
 * `romimg jail --verify` (tests/privileged/jail_verify_parity.sh) and on the appliance (e2e), and
 * both tests expect the same lines. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/stat.h>
#include <unistd.h>

/* Opens `path` with `flags`, moves `n` bytes, and says whether the device behaved. */
static void try_device(const char* path, int flags, int writing, int want_errno) {
    char buf[64] = {0};
    const char* result = "OK";
    int fd = open(path, flags | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        result = strerrorname_np(errno);
    } else {
        ssize_t n = writing ? write(fd, buf, sizeof buf) : read(fd, buf, sizeof buf);
        if (want_errno ? !(n < 0 && errno == want_errno) : n < 0) result = n < 0 ? strerrorname_np(errno) : "NO-ERROR";
        close(fd);
    }
    printf("ROOTWRITE dev:%s %s\n", path, result);
}

extern char** environ;

static void mount_flags(const char* what, const char* path) {
    struct statvfs sv;
    if (statvfs(path, &sv) < 0) {
        printf("ROOTWRITE fact:mount %s %s\n", what, strerrorname_np(errno));
        return;
    }
    printf("ROOTWRITE fact:mount %s %s%s%s%s\n", what, sv.f_flag & ST_RDONLY ? "ro" : "rw",
           sv.f_flag & ST_NOSUID ? ",nosuid" : "", sv.f_flag & ST_NODEV ? ",nodev" : "", sv.f_flag & ST_NOEXEC ? ",noexec" : "");
}

static void facts(void) {
    mount_flags("/", "/");
    mount_flags("/dev/null", "/dev/null");
    mount_flags("/run/rootwrite", "/run/rootwrite");
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    printf("ROOTWRITE fact:nofile %llu\n", (unsigned long long)rl.rlim_cur);
    printf("ROOTWRITE fact:no_new_privs %d\n", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
    printf("ROOTWRITE fact:uid %u gid %u\n", getuid(), getgid());
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2];
    syscall(SYS_capget, &h, d);
    printf("ROOTWRITE fact:caps %08x%08x\n", d[1].effective, d[0].effective);
    printf("ROOTWRITE fact:proc %s\n", access("/proc/self", F_OK) == 0 ? "mounted" : "absent");
    for (char** e = environ; *e; ++e) printf("ROOTWRITE fact:env %.*s\n", (int)strcspn(*e, "="), *e);
}

static void try_create(const char* path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    printf("ROOTWRITE %s %s\n", path, fd < 0 ? strerrorname_np(errno) : "WRITABLE");
    if (fd >= 0) close(fd);
}

int main(int argc, char** argv) {
    int port = 9099;
    if (argc > 1 && !strcmp(argv[1], "--crash")) {
        /* tests/e2e/lighttpd.sh: a service that dies before it is ready must be explained on
         * the console (its last lines) and by romimg verify, without --log-console. It dies
         * only under the appliance's kernel: traced on the build host it serves (port 9098),
         * or it could not be built into an image at all. */
        struct utsname u;
        if (uname(&u) == 0 && strstr(u.release, "-romimg")) {
            printf("ROOTWRITE crashing on purpose before it is ready\n");
            fflush(stdout);
            return 3;
        }
        port = 9098;
        goto serve;
    }
    if (argc > 1 && !strcmp(argv[1], "--slow-start")) {
        /* tests/e2e/lighttpd.sh: a service slower to come up than its template's ready timeout
         * (2 s) on the appliance, as tomcat is on a slow machine: init kills that start and must
         * give the next one more time, until it is ready. Traced on the build host it is quick
         * (the same calls, a shorter sleep), or the build's own ready check would refuse it. */
        struct utsname u;
        const int slow = uname(&u) == 0 && strstr(u.release, "-romimg");
        struct timespec t = {slow ? 3 : 0, slow ? 0 : 1000000};
        nanosleep(&t, NULL);
        port = 9097;
        goto serve;
    }
    try_create("/rootwrite-test");
    /* A new file beside its own binary: that directory exists in the jail, so only a read-only
     * root can refuse it. */
    char beside[4096];
    snprintf(beside, sizeof beside, "%.*s/rootwrite-new", (int)(strrchr(argv[0], '/') - argv[0]), argv[0]);
    try_create(beside);
    try_create(argv[0]);
    try_create("/etc/passwd");
    printf("ROOTWRITE mkdir:/newdir %s\n", mkdir("/newdir", 0755) < 0 ? strerrorname_np(errno) : "WRITABLE");
    try_create("/run/rootwrite/ok");
    char first[128] = "";
    FILE* f = fopen("/srv/content/index.html", "re");
    if (f && fgets(first, sizeof first, f)) first[strcspn(first, "\n")] = 0;
    printf("ROOTWRITE read:/srv/content/index.html %s\n", f ? first : strerrorname_np(errno));
    if (f) fclose(f);
    try_create("/srv/content/index.html");
    try_create("/srv/content/new");
    try_device("/dev/null", O_RDWR, 1, 0);
    try_device("/dev/zero", O_RDONLY, 0, 0);
    try_device("/dev/random", O_RDONLY, 0, 0);
    try_device("/dev/urandom", O_RDONLY, 0, 0);
    try_device("/dev/full", O_WRONLY, 1, ENOSPC);
    facts();
    fflush(stdout);
serve:;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(s, (struct sockaddr*)&a, sizeof a) < 0 || listen(s, 4) < 0) return 1;
    for (;;) {
        int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
        if (c >= 0) close(c);
    }
}
