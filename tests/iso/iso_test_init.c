/* The ISO tests' PID 1: proves which way the machine booted and that the medium is visible.
 * Prints (all lines start with "ISO-TEST"):
 *   ISO-TEST BEGIN
 *   ISO-TEST cmdline <the kernel command line>
 *   ISO-TEST firmware uefi|bios        (/sys/firmware/efi exists under UEFI)
 *   ISO-TEST block <dev> label=<ISO9660 volume id or ->     one per block device
 *   ISO-TEST medium <dev> label=<L>    the device carrying the label asked for by
 *                                      iso_test.label=L (waits up to 30 s: USB enumerates late)
 *   ISO-TEST payload <path> bytes=<n> fnv1a64=<hex>   that device mounted as iso9660
 *                                      (read-only), the file named by iso_test.payload=PATH
 *                                      read through and checksummed
 *   ISO-TEST DONE
 * then powers off, unless iso_test.hold is on the command line: then it prints
 * "ISO-TEST HOLD" and waits (the monitor tests press keys or the power button). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <unistd.h>

static char cmdline[4096];

static void say(const char *fmt, const char *a, const char *b) {
    char line[4600];
    int n = snprintf(line, sizeof line, fmt, a, b);
    if (n > 0) write(1, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

static const char *param(const char *name, char *out, size_t outsz) {
    size_t len = strlen(name);
    for (char *p = cmdline; (p = strstr(p, name)) != NULL; p += len) {
        if ((p == cmdline || p[-1] == ' ') && (p[len] == '=' || p[len] == ' ' || p[len] == 0)) {
            const char *v = p[len] == '=' ? p + len + 1 : "";
            size_t i = 0;
            while (v[i] && v[i] != ' ' && i + 1 < outsz) { out[i] = v[i]; i++; }
            out[i] = 0;
            return out;
        }
    }
    return NULL;
}

/* The ISO9660 primary volume descriptor's volume id: 32 bytes at 32768 + 40. */
static int read_label(const char *dev, char *out) {
    char path[300];
    snprintf(path, sizeof path, "/dev/%s", dev);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    unsigned char pvd[2048];
    ssize_t n = pread(fd, pvd, sizeof pvd, 32768);
    close(fd);
    if (n != (ssize_t)sizeof pvd || pvd[0] != 1 || memcmp(pvd + 1, "CD001", 5) != 0) return -1;
    memcpy(out, pvd + 40, 32);
    int end = 32;
    while (end > 0 && out[end - 1] == ' ') end--;
    out[end] = 0;
    return 0;
}

static char medium[300];

static int scan(const char *want, int print_all) {
    int found = 0;
    DIR *d = opendir("/sys/block");
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strncmp(e->d_name, "loop", 4) == 0) continue;
        char label[33];
        int ok = read_label(e->d_name, label) == 0;
        if (print_all) say("ISO-TEST block %s label=%s\n", e->d_name, ok ? label : "-");
        if (ok && want && strcmp(label, want) == 0 && !found) {
            say("ISO-TEST medium %s label=%s\n", e->d_name, label);
            snprintf(medium, sizeof medium, "/dev/%s", e->d_name);
            found = 1;
        }
    }
    closedir(d);
    return found;
}

int main(void) {
    mount("proc", "/proc", "proc", 0, NULL);
    mount("sysfs", "/sys", "sysfs", 0, NULL);
    mkdir("/dev", 0755);
    mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    say("ISO-TEST BEGIN%s%s\n", "", "");

    int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, cmdline, sizeof cmdline - 1) : -1;
    if (fd >= 0) close(fd);
    cmdline[n > 0 ? n : 0] = 0;
    if (n > 0 && cmdline[n - 1] == '\n') cmdline[n - 1] = 0;
    say("ISO-TEST cmdline %s%s\n", cmdline, "");

    struct stat st;
    say("ISO-TEST firmware %s%s\n", stat("/sys/firmware/efi", &st) == 0 ? "uefi" : "bios", "");

    char want[64];
    const char *label = param("iso_test.label", want, sizeof want);
    int found = 0;
    for (int i = 0; i < 300 && label && !found; i++) {  /* 30 s */
        found = scan(label, 0);
        if (!found) usleep(100 * 1000);
    }
    scan(NULL, 1);
    if (label && !found) say("ISO-TEST medium none label=%s%s\n", label, "");

    char payload[256];
    if (found && param("iso_test.payload", payload, sizeof payload)) {
        mkdir("/media", 0755);
        if (mount(medium, "/media", "iso9660", MS_RDONLY, NULL) != 0) {
            say("ISO-TEST payload mount-failed %s errno=%s\n", medium, strerror(errno));
        } else {
            char path[300];
            snprintf(path, sizeof path, "/media/%s", payload);
            int pfd = open(path, O_RDONLY | O_CLOEXEC);
            if (pfd < 0) {
                say("ISO-TEST payload %s open-failed errno=%s\n", payload, strerror(errno));
            } else {
                unsigned long long h = 1469598103934665603ULL, total = 0;
                unsigned char buf[65536];
                ssize_t r;
                while ((r = read(pfd, buf, sizeof buf)) > 0) {
                    for (ssize_t k = 0; k < r; k++) { h ^= buf[k]; h *= 1099511628211ULL; }
                    total += (unsigned long long)r;
                }
                close(pfd);
                char sums[80];
                snprintf(sums, sizeof sums, "bytes=%llu fnv1a64=%016llx", total, h);
                say("ISO-TEST payload %s %s\n", payload, sums);
            }
            umount("/media");
        }
    }
    say("ISO-TEST DONE%s%s\n", "", "");

    char dummy[8];
    if (param("iso_test.hold", dummy, sizeof dummy)) {
        say("ISO-TEST HOLD%s%s\n", "", "");
        for (;;) pause();
    }
    sync();
    reboot(RB_POWER_OFF);
    return 0;
}
