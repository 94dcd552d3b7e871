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
//
// e2e-data ROMIMG ISO WORKDIR mariadb|postgresql (e2e.mariadb, e2e.postgresql: mariadb.sh,
// postgresql.sh): the shipped template on a test host whose database shop has a user e2e and a
// table orders:
//   1. a fresh data disk (virtio): seeded with the host's datadir; every probe of the template
//      (an SQL query among them); a row committed over the network; the power button;
//   2. SATA: the row is there; another committed in a transaction, and QEMU killed (SIGKILL)
//      the moment COMMIT returned;
//   3. virtio: the disk checked after the power cut, the database recovers: both rows are there;
//   4. no data disk: init does not start the service and says why.
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
#include "recipe/template.h"
#include "trace/probe.h"

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
    int gate_port = 0;  // dbgate's 9099 (e2e.mariadb's image), when forwarded
};

Boot boot(const std::string& iso, const std::string& disk, const std::string& bus, const std::filesystem::path& dir,
          uint16_t guest_port = 9098, int mem_mb = 256, bool gate = false) {
    qemu::QemuSpec spec;
    spec.iso = iso;
    spec.mem_mb = mem_mb;
    spec.data_disk = disk;
    spec.data_bus = bus;
    int port = qemu::free_local_port();
    spec.forwards = {{(uint16_t)port, guest_port}};
    int gate_port = 0;
    if (gate) {
        gate_port = qemu::free_local_port();
        spec.forwards.push_back({(uint16_t)gate_port, 9099});
    }
    return {qemu::Machine::start(spec, dir), port, gate_port};
}

bool ready(Boot& b) {
    return b.m.wait_for_line(std::regex("datastore is ready"), 180s, false).has_value();
}

void power_off(Boot& b) {
    b.m.power_button();
    check(b.m.wait_exit(120s).has_value(), "power button: the guest powers off");
}

// Booted without a data disk: the console line matching `refusal` (init did not start the
// service), then the power button.
void no_disk(const std::string& iso, int mem_mb, const std::filesystem::path& dir, const std::string& refusal,
             const std::string& what) {
    qemu::QemuSpec spec;
    spec.iso = iso;
    spec.mem_mb = mem_mb;
    qemu::Machine m = qemu::Machine::start(spec, dir);
    check(m.wait_for_line(std::regex(refusal), 180s, false).has_value(), what);
    m.power_button();
    check(m.wait_exit(120s).has_value(), "power button: the guest powers off");
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

// The database services this driver knows: their port, the data dir's name on the test host
// and the query listing the rows of shop.orders.
struct Database {
    std::string name;
    uint16_t port;
    std::string datadir;  // the last part of the test host's data dir (mariadb.sh, postgresql.sh)
    std::string table;    // shop's orders, as the client's session names it
    std::string rows;
};

const Database kDatabases[] = {
    {"mariadb", 3306, "host-mysql", "shop.orders", "SELECT GROUP_CONCAT(note ORDER BY id) FROM shop.orders"},
    {"postgresql", 5432, "host-pg", "orders", "SELECT string_agg(note, ',' ORDER BY id) FROM orders"},
};

// An SQL statement as the test host's user e2e, over the forwarded port: (exit status, output).
std::pair<int, std::string> sql(const Database& db, int port, const std::string& statement) {
    Command c;
    if (db.name == "mariadb")
        c.argv = {"mariadb", "--host=127.0.0.1", fmt::format("--port={}", port), "--connect-timeout=30", "--user=e2e",
                  "--password=e2e-password", "--batch", "--skip-column-names", "--execute=" + statement};
    else
        c.argv = {"psql", fmt::format("host=127.0.0.1 port={} user=e2e dbname=shop password=e2e-password connect_timeout=30", port),
                  "--no-psqlrc", "--tuples-only", "--no-align", "-v", "ON_ERROR_STOP=1", "--command=" + statement};
    Collected r = run_collect(c, 120);
    while (!r.output.empty() && r.output.back() == '\n') r.output.pop_back();
    for (char& ch : r.output)
        if (ch == '\n') ch = ' ';
    return {r.timed_out ? -1 : r.status, r.output};
}

int database(const Database& db, const std::string& romimg, const std::string& iso, const std::filesystem::path& work) {
    fs::TempDir dir("/tmp", "romimg-e2e-" + db.name + "-");
    const std::string disk = (work / "data.img").string();
    std::filesystem::remove(disk);
    Command mk;
    mk.argv = {romimg, "-q", "data-disk", disk, "--size", "512m"};
    run(mk);
    auto is_ready = [&](Boot& b) {
        return b.m.wait_for_line(std::regex(db.name + " is ready"), 300s, false).has_value();
    };
    const std::string& rows = db.rows;
    {  // 1. a fresh disk: seeded, probed, a row committed, a clean power-off
        Boot b = boot(iso, disk, "virtio", dir.path() / "1", db.port, 512, db.name == "mariadb");
        check(b.m.wait_for_line(std::regex("data for " + db.name + ": .*/" + db.datadir + " seeded from the image .*on the data disk"),
                                180s, false).has_value(),
              fmt::format("boot 1 (virtio): {}'s data dir seeded from the image (the host's), on the data disk", db.name));
        check(is_ready(b), db.name + " is ready");
        // The probes as the build ran them (the override template of the .sh): an SQL query as
        // e2e, and the shipped template's own.
        const recipe::ServiceTemplate t = recipe::load_template(db.name);
        for (const auto& p : t.trace_probes) {
            auto r = trace::run_probe(trace::parse_probe(p), fmt::format("db://127.0.0.1:{}", b.port), 120);
            check(r.ok, fmt::format("probe {}{}", r.request, r.ok ? "" : " (" + r.detail + ")"));
        }
        auto [st, out] = sql(db, b.port, rows);
        check(st == 0 && out == "from-the-host", fmt::format("the host's row is served: '{}'", out));
        auto [st2, out2] = sql(db, b.port, "INSERT INTO " + db.table + " (note) VALUES ('first-boot')");
        check(st2 == 0, fmt::format("a row committed over the network (autocommit){}", out2.empty() ? "" : ": " + out2));
        if (b.gate_port) {
            // Services talking across jails: dbgate, in its own jail, reads MariaDB over loopback.
            check(b.m.wait_for_line(std::regex("dbgate is ready"), 120s, false).has_value(), "dbgate (another jail) is ready");
            auto [gst, gbody] = get(b.gate_port, "/orders");
            check(gst == 200 && gbody == "from-the-host\nfirst-boot\n",
                  fmt::format("dbgate, in its own jail, reads the rows from MariaDB over 127.0.0.1:3306 ({}: '{}')", gst, gbody));
        }
        power_off(b);
    }
    {  // 2. SATA: a transaction committed, then a power cut
        Boot b = boot(iso, disk, "sata", dir.path() / "2", db.port, 512, db.name == "mariadb");
        check(is_ready(b), fmt::format("boot 2 (SATA): {} is ready", db.name));
        auto [st, out] = sql(db, b.port, rows);
        check(st == 0 && out == "from-the-host,first-boot", fmt::format("the row survived a clean power-off: '{}'", out));
        auto [st2, out2] = sql(db, b.port, "BEGIN; INSERT INTO " + db.table + " (note) VALUES ('before-the-cut'); COMMIT");
        kill(b.m.pid(), SIGKILL);  // the moment COMMIT returned: a power cut
        check(st2 == 0, fmt::format("a transaction committed, then QEMU killed{}", out2.empty() ? "" : ": " + out2));
        b.m.stop();
    }
    {  // 3. virtio again: the check after the power cut, InnoDB's recovery, both rows
        Boot b = boot(iso, disk, "virtio", dir.path() / "3", db.port, 512, db.name == "mariadb");
        check(b.m.wait_for_line(std::regex("data disk /dev/vd[a-z]: e2fsck -p exit status [012] "), 180s, false).has_value(),
              "boot 3 (virtio): init checks the disk after the power cut");
        check(is_ready(b), db.name + " is ready");
        // PostgreSQL binds its port while it recovers: its ready check waits for sessions.
        if (db.name == "postgresql")
            check(b.m.console().find("postgresql is ready (") != std::string::npos &&
                      b.m.console().find(", taking sessions) and exec-locked") != std::string::npos,
                  "postgresql's ready line says it takes sessions (postgres:5432)");
        auto [st, out] = sql(db, b.port, rows);
        check(st == 0 && out == "from-the-host,first-boot,before-the-cut",
              fmt::format("both rows survived, the second a hard power cut right after its COMMIT: '{}'", out));
        check(b.m.console().find(db.name + " exited") == std::string::npos &&
                  b.m.console().find(db.name + " was killed") == std::string::npos,
              db.name + " never died");
        power_off(b);
    }
    // 4. no data disk
    no_disk(iso, 512, dir.path() / "4", "NOT starting " + db.name + ": its data dir .*/" + db.datadir + " needs the data disk: no data disk",
            fmt::format("boot 4 (no data disk): init does not start {}, and says why", db.name));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const Database* db = nullptr;
    if (argc == 5)
        for (const auto& d : kDatabases)
            if (d.name == argv[4]) db = &d;
    if (argc != 4 && !db) {
        fmt::print(stderr, "usage: e2e-data ROMIMG ISO WORKDIR [mariadb|postgresql]\n");
        return 2;
    }
    if (geteuid() != 0) {
        fmt::print("SKIP: needs root\n");
        return 77;
    }
    const std::string romimg = argv[1], iso = argv[2];
    const std::filesystem::path work = argv[3];
    if (db) {
        try {
            database(*db, romimg, iso, work);
        } catch (const std::exception& e) {
            check(false, std::string("error: ") + e.what());
        }
        fmt::print("{}\n", fails ? fmt::format("{} checks failed", fails) : "all checks passed");
        return fails ? 1 : 0;
    }
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
        // 4. no data disk
        no_disk(iso, 256, dir.path() / "4",
                "NOT starting datastore: its data dir /var/local needs the data disk: no data disk: "
                "no disk holds an ext4 filesystem labelled romimg-data; make one .*romimg data-disk",
                "boot 4 (no data disk): init does not start datastore, and says why and how to make a disk");
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
