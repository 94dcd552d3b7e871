// e2e.data-disk (issue 18): an image whose test service (datastore.c) keeps its state in a
// [data] dir, booted in QEMU (TCG) several times:
//   1. with a fresh data disk (virtio): init checks it, takes it, seeds the service's dir;
//      a line appended over the network; the power button (clean power-off);
//   2. the same disk on another bus (SATA): the line is there; another line appended, and QEMU
//      killed (SIGKILL) as soon as the answer came: a hard power cut;
//   3. the same disk (USB): both lines are there; filling the disk gets the service ENOSPC, and
//      the service, init and the machine carry on;
//   4. no data disk: init does not start the service and says why and how to make one;
//   5. a disk that names another appliance, 6. a disk labelled romimg-data that holds files and
//      no appliance name: each refused with its reason, and left unchanged (same bytes);
//   7. this appliance's disk whose service dir is a symlink (to /run, in init's view): refused,
//      nothing seeded or bound through it.
// Usage: e2e-data ROMIMG ISO WORKDIR. Self-describing output; exit 0 = all passed.
#include <arpa/inet.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <regex>

#include <fmt/format.h>

#include "common/command.h"
#include "common/error.h"
#include "common/fs.h"
#include "http.h"
#include "qemu/qemu.h"

using namespace romimg;
using namespace std::chrono_literals;

namespace {

int fails = 0;
bool check(bool ok, const std::string& what) {
    fmt::print("{} {}\n", ok ? "ok  " : "FAIL", what);
    fflush(stdout);
    fails += !ok;
    return ok;
}

// The body of the answer to GET PATH on 127.0.0.1:PORT, and its status (0: no answer).
std::pair<int, std::string> get(int port, const std::string& path) {
    const std::string out = http_get(port, path);
    int status = 0;
    sscanf(out.c_str(), "HTTP/%*s %d", &status);
    size_t body = out.find("\r\n\r\n");
    return {status, body == std::string::npos ? "" : out.substr(body + 4)};
}

struct Boot {
    qemu::Machine m;
    int port;
};

Boot boot(const std::string& iso, const std::string& disk, const std::string& bus, const std::filesystem::path& dir) {
    qemu::QemuSpec spec;
    spec.iso = iso;
    spec.mem_mb = 256;
    spec.data_disk = disk;
    spec.data_bus = bus;
    int port = qemu::free_local_port();
    spec.forwards = {{(uint16_t)port, 9098}};
    return {qemu::Machine::start(spec, dir), port};
}

bool ready(Boot& b) {
    return b.m.wait_for_line(std::regex("datastore is ready"), 180s, false).has_value();
}

void power_off(Boot& b) {
    b.m.power_button();
    check(b.m.wait_exit(120s).has_value(), "power button: the guest powers off");
}

std::string sha(const std::string& file) {
    Command c;
    c.argv = {"sha256sum", file};
    return run_capture(c).substr(0, 64);
}

// A fresh disk, then (debugfs, on the image file) a file written at its root, and `more`
// debugfs commands.
std::string disk_with_file(const std::string& romimg, const std::filesystem::path& dir, const std::string& name,
                           const std::string& file, const std::string& content, const std::string& more = "") {
    const std::string disk = (dir / name).string();
    Command c;
    c.argv = {romimg, "-q", "data-disk", disk, "--size", "64m"};
    run(c);
    const std::string src = (dir / (name + ".content")).string();
    fs::write_file_atomic(src, content);
    c.argv = {"debugfs", "-w", "-R", "write " + src + " " + file, disk};
    c.log = dir / "debugfs.log";
    run(c);
    if (!more.empty()) {
        c.argv = {"debugfs", "-w", "-R", more, disk};
        run(c);
    }
    return disk;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        fmt::print(stderr, "usage: e2e-data ROMIMG ISO WORKDIR\n");
        return 2;
    }
    if (geteuid() != 0) {
        fmt::print("SKIP: needs root\n");
        return 77;
    }
    const std::string romimg = argv[1], iso = argv[2];
    const std::filesystem::path work = argv[3];
    try {
        fs::TempDir dir("/tmp", "romimg-e2e-data-");
        const std::string disk = (work / "data.img").string();
        std::filesystem::remove(disk);
        Command mk;
        mk.argv = {romimg, "-q", "data-disk", disk, "--size", "64m"};
        run(mk);

        {  // 1. a fresh disk
            Boot b = boot(iso, disk, "virtio", dir.path() / "1");
            check(b.m.wait_for_line(std::regex("data disk /dev/vd[a-z]: e2fsck -p exit status 0 \\(clean\\)"), 120s, false).has_value(),
                  "boot 1 (virtio): init checks the data disk (e2fsck -p: clean)");
            check(b.m.wait_for_line(std::regex("data disk /dev/vd[a-z] is new: it now belongs to romimg"), 10s, false).has_value(),
                  "a fresh disk: init writes this appliance's name on it");
            check(b.m.wait_for_line(std::regex("data for datastore: /var/local seeded from the image .*on the data disk"), 10s, false).has_value(),
                  "datastore's /var/local seeded from the image, on the data disk");
            check(ready(b), "datastore is ready");
            auto [st, body] = get(b.port, "/append/first-line");
            check(st == 200, fmt::format("a line appended over the network ({})", st));
            power_off(b);
        }
        {  // 2. the same disk on SATA; a hard power cut right after a committed append
            Boot b = boot(iso, disk, "sata", dir.path() / "2");
            check(ready(b), "boot 2 (SATA): datastore is ready");
            check(b.m.console().find("is new") == std::string::npos, "the disk is not new to init any more");
            auto [st, body] = get(b.port, "/");
            check(st == 200 && body == "first-line\n", fmt::format("the line survived a clean power-off: '{}'", body));
            auto [st2, body2] = get(b.port, "/append/second-line");
            kill(b.m.pid(), SIGKILL);  // the moment the answer came: a power cut
            check(st2 == 200, fmt::format("a second line appended ({}), then QEMU killed", st2));
            b.m.stop();
        }
        {  // 3. the same disk on USB: both lines; a full disk
            Boot b = boot(iso, disk, "usb", dir.path() / "3");
            check(b.m.wait_for_line(std::regex("data disk /dev/sd[a-z]: e2fsck -p exit status [012] "), 120s, false).has_value(),
                  "boot 3 (USB): init checks the disk after the power cut (journal replayed)");
            check(ready(b), "datastore is ready");
            auto [st, body] = get(b.port, "/");
            check(st == 200 && body == "first-line\nsecond-line\n",
                  fmt::format("both lines survived, the second a hard power cut right after its answer: '{}'", body));
            auto [fst, fbody] = get(b.port, "/fill");
            check(fbody.find("FILL No space left on device") != std::string::npos,
                  fmt::format("filling the data disk gets the service ENOSPC: '{}'", fbody));
            auto [st3, body3] = get(b.port, "/append/after-full");
            check(st3 == 200, "and it carries on once the space is back");
            check(b.m.console().find("datastore exited") == std::string::npos && b.m.console().find("datastore was killed") == std::string::npos,
                  "datastore never died");
            power_off(b);
        }
        {  // 4. no data disk
            qemu::QemuSpec spec;
            spec.iso = iso;
            spec.mem_mb = 256;
            qemu::Machine m = qemu::Machine::start(spec, dir.path() / "4");
            check(m.wait_for_line(std::regex("NOT starting datastore: its data dir /var/local needs the data disk: no data disk: "
                                             "no disk holds an ext4 filesystem labelled romimg-data; make one .*romimg data-disk"),
                                  120s, false).has_value(),
                  "boot 4 (no data disk): init does not start datastore, and says why and how to make a disk");
            m.power_button();
            check(m.wait_exit(120s).has_value(), "power button: the guest powers off");
        }
        {  // 5. another appliance's disk, 6. not a romimg data disk: refused, unchanged
            for (auto [name, file, content, pattern] :
                 {std::tuple{"other.img", ".romimg-appliance", "elsewhere\n",
                             "belongs to another appliance \\(elsewhere, not romimg\\): refusing it"},
                  std::tuple{"foreign.img", "notes.txt", "someone's files\n",
                             "holds files and no .romimg-appliance: it is not a romimg data disk; refusing it"}}) {
                const std::string d = disk_with_file(romimg, dir.path(), name, file, content);
                const std::string before = sha(d);
                Boot b = boot(iso, d, "virtio", dir.path() / (std::string(name) + ".boot"));
                check(b.m.wait_for_line(std::regex(std::string("NOT starting datastore: its data dir /var/local needs the data disk: .*") + pattern),
                                        120s, false).has_value(),
                      fmt::format("{}: refused with the reason", name));
                power_off(b);
                check(sha(d) == before, fmt::format("{}: not one byte of it changed", name));
            }
        }
        {  // 7. a crafted disk: the service's dir is a symlink out of the disk
            const std::string d = disk_with_file(romimg, dir.path(), "crafted.img", ".romimg-appliance", "romimg\n",
                                                 "symlink datastore /run");
            Boot b = boot(iso, d, "virtio", dir.path() / "crafted.boot");
            check(b.m.wait_for_line(std::regex("NOT starting datastore: its data dir /var/local needs the data disk: "
                                               "/run/romimg-data/datastore on the data disk is not a plain directory"),
                                    120s, false).has_value(),
                  "crafted.img (datastore -> /run): refused, nothing seeded or bound through the symlink");
            power_off(b);
        }
    } catch (const std::exception& e) {
        check(false, std::string("error: ") + e.what());
    }
    fmt::print("{}\n", fails ? fmt::format("{} checks failed", fails) : "all checks passed");
    return fails ? 1 : 0;
}
