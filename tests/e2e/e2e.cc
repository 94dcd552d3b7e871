// End-to-end: boot the apache+tomcat appliance ISO in QEMU (TCG) and check it does its job.
//   e2e-boot ISO bios-cd|uefi-usb|debug-shell|content|lighttpd|target|target-uefi-usb|pentium2 poweroff|reboot MEM_MB
// The machine is the image's (image.json arch: an i386 image boots on qemu-system-i386 -cpu
// pentium3 with an i82559er NIC); "target" checks every service of the image on it, "pentium2"
// the same on a CPU with no SSE at all.
// Waits for both services to be ready (init's console lines), makes every trace and verify
// probe of the shipped templates through forwarded ports, checks that apache's access log
// reached init's log drain (the image is built with --log-console), then presses the power
// button (services stopped first, then power-off) or Ctrl+Alt+Del (services stopped, reboot,
// and the appliance comes up again). Self-describing output; exit 0 = all passed.
#include <arpa/inet.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <regex>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "appliance_conf.h"
#include "common/error.h"
#include "http.h"
#include "common/fs.h"
#include "common/strings.h"
#include "image/image_info.h"
#include "image/manifest.h"
#include "qemu/qemu.h"
#include "recipe/template.h"
#include "target/target.h"
#include "trace/probe.h"

using namespace romimg;
using namespace std::chrono_literals;

int main(int argc, char** argv) {
    if (argc != 5) {
        fmt::print(stderr, "usage: e2e-boot ISO bios-cd|uefi-usb|debug-shell|content|lighttpd|target|target-uefi-usb|pentium2 poweroff|reboot MEM_MB\n");
        return 2;
    }
    if (geteuid() != 0) {
        fmt::print("SKIP: needs root\n");
        return 77;
    }
    std::string iso = argv[1], mode = argv[2], end = argv[3];
    int fails = 0;
    auto check = [&](bool ok, const std::string& what) {
        fmt::print("{} {}\n", ok ? "ok  " : "FAIL", what);
        fails += !ok;
        return ok;
    };
    try {
        fs::TempDir dir("/tmp", "romimg-e2e-");
        int apache_port = qemu::free_local_port(), tomcat_port = qemu::free_local_port();
        qemu::QemuSpec spec;
        const image::ImageInfo info = image::read_image_info(iso);
        // What init was told to check: the files each service must map once ready (a jlink'd
        // runtime's CDS archive).
        std::map<std::string, std::vector<std::string>> expect_maps;
        {
            appliance::Conf conf;
            std::string why;
            if (!appliance::parse_conf(image::read_iso_file(iso, image::kConfPath), conf, why))
                throw Error("the image's appliance.conf: " + why);
            for (const auto& s : conf.services) expect_maps[s.name] = s.expect_maps;
        }
        qemu::apply_target(spec, target::target_named(info.arch));
        if (mode == "pentium2") spec.cpu = "pentium2";  // a Pentium II: MMX, no SSE
        spec.iso = iso;
        spec.mem_mb = atoi(argv[4]);
        spec.forwards = {{(uint16_t)apache_port, 80}, {(uint16_t)tomcat_port, 8080}};
        // E2E_SMP: vCPUs (bench/soak boots with 2, as the issue's numbers are).
        if (const char* smp = getenv("E2E_SMP")) spec.cpus = std::max(1, atoi(smp));
        // The BIOS CD boot has a watchdog (PCI i6300esb) for init to pet.
        spec.watchdog = mode == "bios-cd";
        if (mode == "uefi-usb" || mode == "target-uefi-usb") {
            spec.firmware = qemu::Firmware::uefi;
            spec.medium = qemu::Medium::usb;
            spec.ovmf_vars = qemu::prepare_uefi_vars(dir.path());
        }
        auto t0 = std::chrono::steady_clock::now();
        qemu::Machine m = qemu::Machine::start(spec, dir.path());
        auto since = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
        if (mode == "content") {
            // romimg build apache rootwrite --content apache:/var/www/html=DIR
            //   --content rootwrite:/srv/content=TAR.GZ (tests/e2e/content.sh); markers in the env.
            const std::string site = getenv("E2E_SITE_MARKER") ? getenv("E2E_SITE_MARKER") : "";
            const std::string tar = getenv("E2E_TAR_MARKER") ? getenv("E2E_TAR_MARKER") : "";
            check(!site.empty() && !tar.empty(), "E2E_SITE_MARKER and E2E_TAR_MARKER are set");
            check(m.wait_for_line(std::regex("content for apache: /run/medium/live/content/apache-1.sqfs on /jail/apache/var/www/html \\(read-only, verity\\)"), 120s, false).has_value(),
                  "init mounts apache's content layer read-only, through dm-verity");
            check(m.wait_for_line(std::regex("apache is ready .* and exec-locked"), 180s, false).has_value(), "apache is ready, exec-locked");
            std::string page;
            for (int i = 0; i < 30 && page.find(site) == std::string::npos; ++i) {
                page = http_get(apache_port, "/");
                if (page.find(site) == std::string::npos) sleep(2);
            }
            check(page.find(" 200 ") != std::string::npos && page.find(site) != std::string::npos,
                  "GET / through the forward serves the content release (" + site + ")");
            check(m.wait_for_line(std::regex("rootwrite is ready"), 120s, false).has_value(), "the rootwrite service is up");
            std::string c = m.console();
            check(c.find("ROOTWRITE read:/srv/content/index.html " + tar) != std::string::npos,
                  "the tar.gz layer is readable in rootwrite's jail");
            for (const char* f : {"/srv/content/index.html", "/srv/content/new"})
                check(std::regex_search(c, std::regex(fmt::format("ROOTWRITE {} E(ROFS|ACCES|PERM)", f))),
                      fmt::format("a write to {} in the content layer is refused", f));
            check(c.find("ROOTWRITE /run/rootwrite/ok WRITABLE") != std::string::npos, "its tmpfs area is writable (control)");
            m.power_button();
            check(m.wait_exit(120s).has_value(), "power button: the guest powers off");
            fmt::print("{}\n", fails ? fmt::format("{} checks failed", fails) : "all checks passed");
            return fails ? 1 : 0;
        }
        if (mode == "lighttpd") {
            // romimg build lighttpd crasher (tests/e2e/lighttpd.sh), without --log-console.
            check(m.wait_for_line(std::regex("devices for lighttpd: /dev/null /dev/zero /dev/random /dev/urandom"), 120s, false).has_value(),
                  "init binds lighttpd's devices into its jail");
            check(m.wait_for_line(std::regex("lighttpd is ready .* and exec-locked"), 180s, false).has_value(),
                  "lighttpd (Debian's default configuration) is ready, exec-locked");
            auto tmpl = recipe::load_template("lighttpd");
            std::vector<std::string> probes = tmpl.trace_probes;
            probes.insert(probes.end(), tmpl.verify_probes.begin(), tmpl.verify_probes.end());
            for (const auto& p : probes) {
                auto r = trace::run_probe(trace::parse_probe(p), fmt::format("http://127.0.0.1:{}", apache_port), 60);
                check(r.ok, fmt::format("lighttpd: {} (got {})", p, r.status));
            }
            check(m.console().find("lighttpd exited") == std::string::npos && m.console().find("lighttpd was killed") == std::string::npos,
                  "lighttpd never died");
            check(m.wait_for_line(std::regex(R"(\[crasher\] crasher exited with status 3 before it was ready; its last lines:)"), 60s, false).has_value(),
                  "init says the crasher died before it was ready");
            check(m.wait_for_line(std::regex(R"(\[crasher-console\] ROOTWRITE crashing on purpose before it is ready)"), 10s, false).has_value(),
                  "and prints its last lines without --log-console");
            // slowstart listens 3 s after it starts, its ready timeout is 2 s: the first start is
            // killed, a later one (4 s, then 8 s) comes up.
            check(m.wait_for_line(std::regex(R"(slowstart was not ready within 2 s: restarting it, with 4 s for the next start)"), 120s, false).has_value(),
                  "init restarts a service that missed its ready timeout with twice the time");
            check(m.wait_for_line(std::regex(R"(slowstart is ready \([0-9.]+ s\))"), 60s, false).has_value(),
                  "and it comes up on a later start");
            m.power_button();
            check(m.wait_exit(120s).has_value(), "power button: the guest powers off");
            fmt::print("{}\n", fails ? fmt::format("{} checks failed", fails) : "all checks passed");
            return fails ? 1 : 0;
        }
        if (mode == "target" || mode == "target-uefi-usb" || mode == "pentium2") {
            // Every service of the image on the target's machine: ready, exec-locked, and every
            // probe of its template answered through the forwards (port 80 and 8080 only).
            fmt::print("machine: {} -cpu {} -m {} with {} ({})\n", spec.system, spec.cpu.empty() ? "default" : spec.cpu,
                       spec.mem_mb, spec.nic, info.arch);
            // E2E_NOT_STARTED: services this machine is too small for (their limits.memory_needed):
            // init must say so instead of starting them, and the others must serve.
            std::set<std::string> not_started;
            for (std::stringstream ss(getenv("E2E_NOT_STARTED") ? getenv("E2E_NOT_STARTED") : ""); ss.good();) {
                std::string name;
                if (std::getline(ss, name, ',') && !name.empty()) not_started.insert(name);
            }
            for (const auto& svc : info.services) {
                // On a Pentium II the issue asks for apache; tomcat (HotSpot with UseSSE=0) was
                // seen to serve there too (docs/i386.md), and is not waited for on every run.
                if (mode == "pentium2" && svc.name != "apache") {
                    fmt::print("--   {} on pentium2: not checked in this run\n", svc.name);
                    continue;
                }
                // Ready, or not started for lack of memory (said at once, so no 600 s wait).
                auto line = m.wait_for_line(std::regex("NOT starting " + svc.name + ": it needs .*|" + svc.name + " is ready .* and exec-locked"), 600s, false);
                const bool refused = line && line->find("NOT starting") != std::string::npos;
                if (not_started.count(svc.name)) {
                    check(refused && std::regex_search(*line, std::regex("it needs [0-9]+ MiB \\(limits.memory_needed\\) and gets [0-9]+ MiB")),
                          fmt::format("init does not start {} on {} MB and says why: {}", svc.name, spec.mem_mb, line.value_or("(no line)")));
                    continue;
                }
                if (refused) {
                    check(false, fmt::format("init does not start {} on {} MB: {}", svc.name, spec.mem_mb, *line));
                    continue;
                }
                auto ready = line;
                check(ready.has_value(), fmt::format("{} is ready and exec-locked ({:.1f} s after QEMU started)", svc.name, since()));
                if (!ready) continue;
                const int port = svc.ports.empty() ? 0 : svc.ports.front() == 80 ? apache_port : svc.ports.front() == 8080 ? tomcat_port : 0;
                if (!port) continue;
                bool answered = false;
                int tries = 0;
                for (; tries < 90 && !answered; ++tries) {
                    answered = trace::run_probe(trace::parse_probe("GET / 200"), fmt::format("http://127.0.0.1:{}", port), 30).ok;
                    if (!answered) sleep(2);
                }
                check(answered, fmt::format("{} answers 200 on / ({:.1f} s after QEMU started)", svc.name, since()));
                if (svc.ready.rfind("http://", 0) == 0) {
                    // Readiness means serving: init said ready only after an HTTP answer, so the
                    // first request after that line is served (a tcp check said ready ~25 s early).
                    check(ready->find(", HTTP ") != std::string::npos, fmt::format("{}'s ready line names the HTTP answer: {}", svc.name, *ready));
                    check(tries == 1, fmt::format("{} served the first request after its ready line ({} tries)", svc.name, tries));
                }
                // The JVM silently runs without a CDS archive it rejects: init looked in its maps.
                for (const auto& f : expect_maps[svc.name])
                    check(ready->find("; maps " + f.substr(f.rfind('/') + 1)) != std::string::npos,
                          fmt::format("{} maps {} once ready: {}", svc.name, f, *ready));
                // E2E_PROBE_TIMEOUT: seconds each probe may take (default 60). The 128 MB boot
                // gives more: a JSP compiled at run time there takes 20-70 s under TCG, the
                // machine reading its evicted jars back from the medium (docs/limits.md).
                const int probe_timeout = getenv("E2E_PROBE_TIMEOUT") ? std::max(1, atoi(getenv("E2E_PROBE_TIMEOUT"))) : 60;
                for (const auto& p : svc.probes) {
                    auto r = trace::run_probe(trace::parse_probe(p), fmt::format("http://127.0.0.1:{}", port), probe_timeout);
                    check(r.ok, fmt::format("{} {} -> {}{}", svc.name, p, r.status, r.ok ? "" : " (" + r.detail + ")"));
                }
            }
            // E2E_STAY: seconds to leave it running after the probes, before looking for deaths
            // (bench/soak: a service that dies some time after it served).
            if (const char* stay = getenv("E2E_STAY")) sleep(std::max(0, atoi(stay)));
            const std::string c = m.console();
            for (const auto& svc : info.services) {
                if (mode == "pentium2" && svc.name != "apache") continue;
                if (not_started.count(svc.name)) {
                    check(c.find("started " + svc.name + " (pid") == std::string::npos, svc.name + " was never started");
                    continue;
                }
                check(c.find(svc.name + " exited") == std::string::npos && c.find(svc.name + " was killed") == std::string::npos,
                      svc.name + " never died");
            }
            check(c.find("invalid opcode") == std::string::npos && c.find("SIGILL") == std::string::npos,
                  "no illegal instruction anywhere (kernel or services)");
            if (fails) fmt::print("--- console ---\n{}\n", c.substr(c.size() > 8000 ? c.size() - 8000 : 0));
            m.power_button();
            check(m.wait_exit(120s).has_value(), "power button: the guest powers off");
            fmt::print("{}\n", fails ? fmt::format("{} checks failed", fails) : "all checks passed");
            return fails ? 1 : 0;
        }
        if (mode == "debug-shell") {
            check(m.wait_for_line(std::regex(R"(\*\*\* DEBUG SHELL ENABLED: .* NOT tamper-proof)"), 120s, false).has_value(),
                  "init announces the debug shell loudly");
            check(m.wait_for_line(std::regex("DEBUG SHELL started on the console"), 60s, false).has_value(),
                  "the debug shell is started on the console");
            check(m.wait_for_line(std::regex("apache is ready .* and exec-locked"), 180s, false).has_value(),
                  "apache still comes up, exec-locked");
            m.power_button();
            check(m.wait_exit(120s).has_value(), "power button: the guest powers off");
            fmt::print("{}\n", fails ? fmt::format("{} checks failed", fails) : "all checks passed");
            return fails ? 1 : 0;
        }
        // The UEFI/USB boot is about the firmware, the medium and the reboot: tomcat, as slow to
        // come up under TCG as it is, is checked on the BIOS/CD boot of the same image.
        const bool tomcat_too = mode != "uefi-usb";
        auto a = m.wait_for_line(std::regex("apache is ready"), 180s, false);
        check(a.has_value(), fmt::format("{} {} MB: apache ready ({:.1f} s after QEMU started)", mode, spec.mem_mb, since()));
        std::optional<std::string> t = "not waited for";
        if (tomcat_too) {
            t = m.wait_for_line(std::regex("tomcat is ready"), 300s, false);
            check(t.has_value(), fmt::format("tomcat ready ({:.1f} s after QEMU started)", since()));
        }
        check(m.console().find("romlock policy written and sealed") != std::string::npos, "romlock policy sealed before the services started");
        check(m.console().find("exec-locked") != std::string::npos, "services exec-locked once ready");
        if (spec.watchdog)
            check(std::regex_search(m.console(), std::regex("watchdog: i6300ESB.*, reset after 30 s without PID 1")),
                  "init found the i6300esb watchdog and pets it");
        check(std::regex_search(m.console(), std::regex("limits of apache: memory \\d+ MiB \\(75% of \\d+ MiB\\), 1024 tasks, 4096 open files")),
              "init put apache in its cgroup with the default limits");
        check(m.console().find("DNS for apache from the kernel's IP configuration") != std::string::npos &&
                  m.console().find("DNS for tomcat from the kernel's IP configuration") != std::string::npos,
              "the jails' resolv.conf comes from DHCP");
        if (!a || !t) {
            fmt::print("--- console ---\n{}\n", m.console().substr(m.console().size() > 6000 ? m.console().size() - 6000 : 0));
            m.stop();
            return 1;
        }
        for (auto [name, port] : {std::pair{"apache", apache_port}, {"tomcat", tomcat_port}}) {
            if (std::string(name) == "tomcat" && !tomcat_too) continue;
            // An open port is not yet an answering web application (a JVM deploying its webapps
            // under TCG): wait, bounded, for the first 200 before judging the probes.
            bool answered = false;
            for (int i = 0; i < 60 && !answered; ++i) {
                auto r = trace::run_probe(trace::parse_probe("GET / 200"), fmt::format("http://127.0.0.1:{}", port), 30);
                answered = r.ok;
                if (!answered) sleep(2);
            }
            check(answered, fmt::format("{} answers 200 on / (checked {:.1f} s after QEMU started)", name, since()));
            auto tmpl = recipe::load_template(name);
            std::vector<std::string> probes = tmpl.trace_probes;
            probes.insert(probes.end(), tmpl.verify_probes.begin(), tmpl.verify_probes.end());
            for (const auto& p : probes) {
                auto r = trace::run_probe(trace::parse_probe(p), fmt::format("http://127.0.0.1:{}", port), 60);
                check(r.ok, fmt::format("{} {} -> {}{}", name, p, r.status, r.ok ? "" : " (" + r.detail + ")"));
            }
        }
        // The fixture's content layer (build_iso.sh) replaced apache's /var/www/html.
        check(http_get(apache_port, "/").find("romimg-e2e-content-marker") != std::string::npos &&
                  m.console().find("content for apache: /run/medium/live/content/apache-1.sqfs on /jail/apache/var/www/html") != std::string::npos,
              "apache serves the fixture's content layer, mounted by init");
        // The test-only service tried to write where nothing may be written.
        auto rw = m.wait_for_line(std::regex("rootwrite is ready"), 120s, false);
        check(rw.has_value(), "the test-only rootwrite service is up and exec-locked");
        for (const char* target : {"/rootwrite-test", "\\S*/rootwrite-new", "/etc/passwd", "mkdir:/newdir"}) {
            std::string c = m.console();
            bool refused = std::regex_search(c, std::regex(fmt::format(R"(ROOTWRITE {} E(ROFS|ACCES|PERM))", target)));
            check(refused, fmt::format("a write to {} in the read-only root is refused", target[0] == '\\' ? "a new file beside its binary" : target));
        }
        check(std::regex_search(m.console(), std::regex(R"(ROOTWRITE \S*rootwrite E(ROFS|ACCES|PERM|TXTBSY))")),
              "a write over the service's own binary is refused");
        check(m.console().find("ROOTWRITE /run/rootwrite/ok WRITABLE") != std::string::npos,
              "its tmpfs area is writable (the positive control)");
        // Issue 12: the jail's devices work for the service's user on the appliance (the root
        // squashfs is nodev; init binds the real devices in), and its confinement is exactly what
        // `romimg jail --verify` gave it (privileged.jail-verify-parity expects the same lines).
        for (const auto& want : romimg::split(romimg::fs::read_file(ROOTWRITE_FACTS), '\n', true))
            check(m.console().find("[rootwrite-console] " + want + "\r") != std::string::npos ||
                      m.console().find("[rootwrite-console] " + want + "\n") != std::string::npos,
                  "the rootwrite service says: " + want);
        // Apache's access log is a FIFO in the read-only image; init drains it (and echoes it on
        // the console because the image was built with --log-console).
        auto logged = m.wait_for_line(std::regex(R"(\[apache-access\.log\] .*"GET /icons/small/back\.png)"), 30s, false);
        check(logged.has_value(), "apache's access log lines reached init's log drain");
        // Tomcat's access log has a dated name in a writable dir of its jail (logs = true): init
        // reads it there, and JULI writes to the console only.
        if (tomcat_too) {
            auto tlogged = m.wait_for_line(std::regex(R"(\[tomcat-tomcat10\] localhost_access_log\.[0-9-]+\.txt: .*"GET /examples/jsp/dates/date\.jsp)"), 30s, false);
            check(tlogged.has_value(), "tomcat's dated access log lines reached init's log drain");
            check(m.console().find("[tomcat-tomcat10] catalina.") == std::string::npos,
                  "JULI's messages are not also in a dated file of the jail (the console has them once)");
        }

        size_t from = m.events().size();
        if (end == "poweroff") {
            m.power_button();
            bool a_stopped = m.wait_for_line(std::regex("stopped apache"), 60s, false).has_value();
            bool t_stopped = m.wait_for_line(std::regex("stopped tomcat|tomcat did not stop in time"), 60s, false).has_value();
            check(a_stopped && t_stopped, "power button: services stopped first");
            check(m.wait_for_line(std::regex("powering off"), 60s, false).has_value(), "then init powers off");
            auto st = m.wait_exit(60s);
            check(st.has_value(), "QEMU exited (the guest powered off)");
        } else {
            m.ctrl_alt_del();
            check(m.wait_for_line(std::regex("Ctrl\\+Alt\\+Del: stopping services"), 60s, false).has_value(), "Ctrl+Alt+Del reached init");
            check(m.wait_for_line(std::regex("rebooting"), 90s, false).has_value(), "services stopped, then reboot");
            check(m.wait_event("RESET", 60s, from), "the machine reset");
            check(m.wait_for_line(std::regex("apache is ready"), 180s, true).has_value(), "after the reboot apache is up again");
            // E2E_CONSOLE=FILE: keep the serial console (to see what a failed check saw).
            if (const char* keep = getenv("E2E_CONSOLE")) fs::write_file_atomic(keep, m.console());
            m.stop();
        }
    } catch (const std::exception& e) {
        fmt::print("FAIL {}\n", e.what());
        return 1;
    }
    fmt::print("{}\n", fails ? fmt::format("{} checks failed", fails) : "all checks passed");
    return fails ? 1 : 0;
}
