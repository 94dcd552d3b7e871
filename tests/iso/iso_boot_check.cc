// iso_boot_check ISO WAY LABEL WORKDIR [TIMEOUT_S [PAYLOAD]]
//   WAY: bios-cd | uefi-cd | bios-usb | uefi-usb   boots ISO that way (headless, through the
//        qemu::Machine API) and checks the test init's report: it ran, on the expected
//        firmware, found the medium by LABEL on the expected kind of device (sr* for a CD,
//        sd* for a USB stick), got the command line the ISO carries, and powered off; with
//        PAYLOAD (the host copy of live/root.sqfs), also that the guest mounted the medium
//        as iso9660 and read back exactly those bytes.
//   WAY: monitor-cad | monitor-powerdown   (bios-cd, ISO built with iso_test.hold) checks the
//        QMP side: "info status" says running; Ctrl+Alt+Del makes the guest kernel reset
//        (RESET event) and the machine boots again (a second "ISO-TEST BEGIN"); the power
//        button reaches the machine (POWERDOWN event); stop() ends QEMU.
// Exit 0 pass, 1 fail (with the console's last lines).
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <exception>
#include <regex>
#include <string>

#include "common/error.h"
#include "qemu/qemu.h"

using namespace romimg;
using namespace std::chrono_literals;

// The test init's checksum of the payload file, computed here from the host copy.
static std::string payload_line(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : data) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    char buf[80];
    std::snprintf(buf, sizeof buf, "bytes=%zu fnv1a64=%016" PRIx64, data.size(), h);
    return buf;
}

static int fail(qemu::Machine* m, const std::string& why) {
    std::fprintf(stderr, "FAIL: %s\n", why.c_str());
    if (m) {
        std::string c = m->console();
        if (c.size() > 4000) c = c.substr(c.size() - 4000);
        std::fprintf(stderr, "---- serial console (last 4000 bytes) ----\n%s\n----\n", c.c_str());
    }
    return 1;
}

int main(int argc, char** argv) {
    if (argc < 5) {
        std::fprintf(stderr, "usage: iso_boot_check ISO WAY LABEL WORKDIR [TIMEOUT_S]\n");
        return 2;
    }
    const std::string iso = argv[1], way = argv[2], label = argv[3], dir = argv[4];
    const auto timeout = std::chrono::seconds(argc > 5 ? std::stoi(argv[5]) : 180);
    const std::string payload = argc > 6 ? argv[6] : "";
    try {
        qemu::QemuSpec spec;
        spec.iso = iso;
        spec.mem_mb = 256;
        bool monitor = way.rfind("monitor-", 0) == 0;
        spec.no_reboot = !monitor;  // a reboot is what monitor-cad wants to see
        if (!monitor) {
            if (way != "bios-cd" && way != "uefi-cd" && way != "bios-usb" && way != "uefi-usb")
                return fail(nullptr, "unknown way " + way);
            spec.firmware = way.rfind("uefi", 0) == 0 ? qemu::Firmware::uefi : qemu::Firmware::bios;
            spec.medium = way.find("usb") != std::string::npos ? qemu::Medium::usb
                                                               : qemu::Medium::cdrom;
        }
        auto m = qemu::Machine::start(spec, dir);
        std::printf("QEMU: %s\n", quote_argv(qemu::qemu_command(m.spec()).argv).c_str());

        auto done = m.wait_for_line(std::regex("ISO-TEST DONE"), timeout, false);
        if (!done) return fail(&m, "no 'ISO-TEST DONE' on the console within the timeout");
        auto line = [&](const std::string& re) { return m.wait_for_line(std::regex(re), 0s, false); };

        const bool uefi = spec.firmware == qemu::Firmware::uefi;
        if (!line(std::string("^ISO-TEST firmware ") + (uefi ? "uefi" : "bios") + "$"))
            return fail(&m, std::string("the guest did not report firmware ") + (uefi ? "uefi" : "bios"));
        const std::string dev = spec.medium == qemu::Medium::usb ? "sd[a-z]+" : "sr[0-9]+";
        auto medium = line("^ISO-TEST medium " + dev + " label=" + label + "$");
        if (!medium)
            return fail(&m, "the guest did not find the medium labelled " + label + " on a " +
                                (spec.medium == qemu::Medium::usb ? "USB disk (sd*)" : "CD (sr*)"));
        if (!line("^ISO-TEST cmdline .*iso_test\\.label=" + label + "( |$)"))
            return fail(&m, "the kernel command line did not carry iso_test.label=" + label);
        std::printf("%s\n", medium->c_str());
        if (!payload.empty()) {
            // The ISO 9660 tree on that device, as the kernel mounts it, holds the payload's bytes.
            std::string want = "ISO-TEST payload live/root.sqfs " + payload_line(payload);
            auto got = line("^ISO-TEST payload ");
            if (!got || *got != want)
                return fail(&m, "payload check: wanted '" + want + "', got '" +
                                    (got ? *got : std::string("nothing")) + "'");
            std::printf("%s\n", got->c_str());
        }

        if (!monitor) {
            if (!m.wait_exit(60s)) return fail(&m, "the guest did not power off");
            std::printf("PASS %s\n", way.c_str());
            return 0;
        }

        // from_last: later waits start after this line (the second boot's BEGIN, not the first).
        if (!m.wait_for_line(std::regex("^ISO-TEST HOLD$"), 10s, true))
            return fail(&m, "the test ISO was not built with iso_test.hold");
        std::string status = m.hmp("info status");
        if (status.find("running") == std::string::npos)
            return fail(&m, "'info status' said: " + status);
        if (way == "monitor-cad") {
            // The test init leaves Ctrl+Alt+Del to the kernel, which restarts at once.
            size_t from = m.events().size();
            m.ctrl_alt_del();
            if (!m.wait_event("RESET", 60s, from))
                return fail(&m, "no RESET event after Ctrl+Alt+Del");
            if (!m.wait_for_line(std::regex("^ISO-TEST BEGIN"), timeout))
                return fail(&m, "the machine did not boot again after the reset");
            m.stop();
            if (m.running()) return fail(&m, "stop() left QEMU running");
            std::printf("PASS monitor-cad: reset, booted again, stopped\n");
            return 0;
        }
        if (way == "monitor-powerdown") {
            // POWERDOWN is QEMU's acknowledgement of the ACPI button press; the test init does
            // not act on it (romimg-init powers off), so stop() must end QEMU.
            size_t from = m.events().size();
            m.power_button();
            if (!m.wait_event("POWERDOWN", 30s, from)) return fail(&m, "no POWERDOWN event");
            m.stop();
            if (m.running()) return fail(&m, "stop() left QEMU running");
            std::printf("PASS monitor-powerdown\n");
            return 0;
        }
        return fail(&m, "unknown way " + way);
    } catch (const std::exception& e) {
        return fail(nullptr, e.what());
    }
}
