/* Test-only service (never shipped) for the data disk (issue 18): a tiny HTTP server whose state
 * is one file in its [data] dir.
 *   GET /            200, the file's lines
 *   GET /append/X    appends "X\n", fsync()s the file (and, when it made it, the dir), then 200:
 *                    an answer means the line is on the disk
 *   GET /fill        writes until the disk is full: 507 with the errno it got (ENOSPC)
 * Usage: datastore PORT DIR */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void reply(int c, int code, const char *body, size_t len) {
    char head[256];
    int n = snprintf(head, sizeof head, "HTTP/1.0 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n\r\n",
                     code, code == 200 ? "OK" : code == 404 ? "Not Found" : "Error", len);
    if (write(c, head, n) < 0 || (len && write(c, body, len) < 0)) return;
}

int main(int argc, char **argv) {
    if (argc != 3) return 2;
    signal(SIGPIPE, SIG_IGN);
    char path[4096];
    snprintf(path, sizeof path, "%s/datastore.log", argv[2]);
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || listen(s, 16) != 0) { perror("bind"); return 1; }
    printf("DATASTORE listening on %s, state in %s\n", argv[1], path);
    fflush(stdout);
    for (;;) {
        int c = accept(s, 0, 0);
        if (c < 0) continue;
        char req[2048] = {0};
        ssize_t n = read(c, req, sizeof req - 1);
        char what[1024] = "";
        if (n <= 0 || sscanf(req, "%*s %1023s", what) != 1) { close(c); continue; }
        if (strncmp(what, "/append/", 8) == 0) {
            int existed = access(path, F_OK) == 0;
            int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
            char line[1100];
            int len = snprintf(line, sizeof line, "%s\n", what + 8);
            if (fd < 0 || write(fd, line, len) != len || fsync(fd) != 0) {
                char err[256];
                int e = snprintf(err, sizeof err, "append failed: %s\n", strerror(errno));
                reply(c, 500, err, e);
            } else {
                if (!existed) {
                    int d = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                    if (d >= 0) { fsync(d); close(d); }
                }
                reply(c, 200, line, len);
            }
            if (fd >= 0) close(fd);
        } else if (strcmp(what, "/fill") == 0) {
            char fill[256];
            snprintf(fill, sizeof fill, "%s/fill", argv[2]);
            int fd = open(fill, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            static char block[65536];
            int e = 0;
            while (fd >= 0 && !e)
                if (write(fd, block, sizeof block) < 0) e = errno;
            if (fd < 0) e = errno;
            else close(fd);
            char msg[128];
            int m = snprintf(msg, sizeof msg, "FILL %s\n", e ? strerror(e) : "no error");
            unlink(fill);
            reply(c, 507, msg, m);
        } else if (strcmp(what, "/") == 0) {
            static char buf[65536];
            int fd = open(path, O_RDONLY | O_CLOEXEC);
            ssize_t got = fd >= 0 ? read(fd, buf, sizeof buf) : 0;
            if (fd >= 0) close(fd);
            reply(c, 200, buf, got > 0 ? (size_t)got : 0);
        } else {
            reply(c, 404, "", 0);
        }
        close(c);
    }
}
