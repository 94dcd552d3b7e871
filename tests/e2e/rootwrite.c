/* Test-only appliance service (e2e): tries to write where a tamper-proof appliance must refuse,
 * prints one "ROOTWRITE <path> <result>" line per attempt (init echoes service output on the
 * console with --log-console), then listens on 127.0.0.1:9099 so init's ready check and exec
 * lock apply to it like any service. /run/rootwrite (a tmpfs area of its jail) is the positive
 * control. With a content layer at /srv/content (the e2e content test), it also reads its index
 * and tries to overwrite it and add a file beside it: a content layer is read-only. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static void try_create(const char* path) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    printf("ROOTWRITE %s %s\n", path, fd < 0 ? strerrorname_np(errno) : "WRITABLE");
    if (fd >= 0) close(fd);
}

int main(int argc, char** argv) {
    (void)argc;
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
    fflush(stdout);
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(9099), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(s, (struct sockaddr*)&a, sizeof a) < 0 || listen(s, 4) < 0) return 1;
    for (;;) {
        int c = accept4(s, NULL, NULL, SOCK_CLOEXEC);
        if (c >= 0) close(c);
    }
}
