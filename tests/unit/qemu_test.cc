// Pure parts of the QEMU module: --forward parsing and the qemu-system-x86_64 argv for each
// way of booting.
#include <catch2/catch.hpp>

#include <algorithm>

#include "common/error.h"
#include "qemu/qemu.h"

using namespace romimg;
using namespace romimg::qemu;

static bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}
static bool contains_sub(const std::vector<std::string>& v, const std::string& s) {
    return std::any_of(v.begin(), v.end(), [&](const std::string& x) { return x.find(s) != std::string::npos; });
}
// The value after option `opt` (first occurrence), or "".
static std::string after(const std::vector<std::string>& v, const std::string& opt) {
    auto it = std::find(v.begin(), v.end(), opt);
    return it == v.end() || it + 1 == v.end() ? "" : *(it + 1);
}

TEST_CASE("forward specs are HOST:GUEST port pairs") {
    auto f = parse_forward("8080:80");
    CHECK(f.host == 8080);
    CHECK(f.guest == 80);
    CHECK(parse_forward("65535:1").host == 65535);
    for (const char* bad : {"8080", ":80", "8080:", "0:80", "70000:80", "a:80", "80:80:80", "-1:80"})
        CHECK_THROWS_AS(parse_forward(bad), UsageError);
}

static QemuSpec base() {
    QemuSpec s;
    s.iso = "/isos/x.iso";
    return s;
}

TEST_CASE("BIOS CD on the terminal: TCG, IDE CD-ROM, serial and monitor on stdio") {
    auto a = qemu_command(base()).argv;
    CHECK(a[0] == "qemu-system-x86_64");
    CHECK(after(a, "-accel") == "tcg");
    CHECK_FALSE(contains_sub(a, "kvm"));
    CHECK(after(a, "-m") == "512");
    CHECK(after(a, "-serial") == "mon:stdio");
    CHECK(contains(a, "-nodefaults"));
    CHECK(after(a, "-vga") == "std");
    CHECK(contains(a, "if=none,id=cd,media=cdrom,format=raw,readonly=on,file=/isos/x.iso"));
    CHECK(contains(a, "ide-cd,drive=cd,bootindex=0"));
    CHECK_FALSE(contains_sub(a, "pflash"));
    CHECK_FALSE(contains_sub(a, "usb"));
    CHECK_FALSE(contains(a, "-no-reboot"));
    CHECK_FALSE(contains(a, "-qmp"));
    CHECK(after(a, "-netdev") == "user,id=net0");
    CHECK(contains(a, "virtio-net-pci,netdev=net0,romfile="));
}

TEST_CASE("UEFI USB stick with forwards, headless with QMP") {
    auto s = base();
    s.firmware = Firmware::uefi;
    s.medium = Medium::usb;
    s.ovmf_vars = "/w/VARS.fd";
    s.forwards = {{8080, 80}, {8443, 8080}};
    s.mem_mb = 1024;
    s.serial_log = "/w/serial.log";
    s.qmp_socket = "/w/qmp.sock";
    s.no_reboot = true;
    auto a = qemu_command(s).argv;
    CHECK(contains(a, "if=pflash,format=raw,unit=0,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd"));
    CHECK(contains(a, "if=pflash,format=raw,unit=1,file=/w/VARS.fd"));
    CHECK(contains(a, "if=none,id=stick,format=raw,readonly=on,file=/isos/x.iso"));
    // A UEFI machine's USB is xHCI; a BIOS one's EHCI (below).
    CHECK(contains(a, "qemu-xhci,id=xhci"));
    CHECK(contains(a, "usb-storage,bus=xhci.0,drive=stick,removable=on,bootindex=0"));
    CHECK_FALSE(contains_sub(a, "usb-ehci"));
    CHECK_FALSE(contains_sub(a, "media=cdrom"));
    s.firmware = Firmware::bios;
    auto b = qemu_command(s).argv;
    CHECK(contains(b, "usb-ehci,id=ehci"));
    CHECK(contains(b, "usb-storage,bus=ehci.0,drive=stick,removable=on,bootindex=0"));
    CHECK(after(a, "-netdev") ==
          "user,id=net0,hostfwd=tcp:127.0.0.1:8080-:80,hostfwd=tcp:127.0.0.1:8443-:8080");
    CHECK(after(a, "-m") == "1024");
    CHECK(after(a, "-serial") == "file:/w/serial.log");
    CHECK(after(a, "-qmp") == "unix:/w/qmp.sock,server=on,wait=off");
    CHECK(contains(a, "-no-reboot"));
}

TEST_CASE("a TAP interface instead of the user network, never with forwards") {
    auto s = base();
    s.tap = "romimgload7";
    CHECK(after(qemu_command(s).argv, "-netdev") == "tap,id=net0,ifname=romimgload7,script=no,downscript=no");
    s.forwards.push_back(parse_forward("8080:80"));
    CHECK_THROWS_WITH(qemu_command(s), Catch::Contains("--tap and --forward do not go together"));
    s.forwards.clear();
    s.tap = "tap0,script=/tmp/x";
    CHECK_THROWS_WITH(qemu_command(s), Catch::Contains("is not an interface name"));
    s.tap = std::string(16, 'a');
    CHECK_THROWS_AS(qemu_command(s), UsageError);
}

TEST_CASE("commas in paths are escaped for QEMU's option syntax") {
    auto s = base();
    s.iso = "/isos/a,b.iso";
    CHECK(contains_sub(qemu_command(s).argv, "file=/isos/a,,b.iso"));
}

TEST_CASE("impossible specs are usage errors") {
    auto s = base();
    s.iso.clear();
    CHECK_THROWS_AS(qemu_command(s), UsageError);
    s = base();
    s.mem_mb = 16;
    CHECK_THROWS_WITH(qemu_command(s), Catch::Contains("--mem must be 32 to 65536 (MB), got 16"));
    s.mem_mb = 32;
    CHECK_NOTHROW(qemu_command(s));
    s = base();
    s.cpus = 0;
    CHECK_THROWS_WITH(qemu_command(s), Catch::Contains("--smp must be 1 to 64, got 0"));
    s = base();
    s.cpus = 2;
    {
        auto argv = qemu_command(s).argv;
        auto it = std::find(argv.begin(), argv.end(), "-smp");
        REQUIRE(it != argv.end());
        CHECK(*(it + 1) == "2");
    }
    s = base();
    s.firmware = Firmware::uefi;  // no vars copy
    CHECK_THROWS_AS(qemu_command(s), UsageError);
    s = base();
    s.forwards = {{8080, 80}, {8080, 81}};
    CHECK_THROWS_WITH(qemu_command(s), Catch::Contains("host port 8080 is forwarded twice"));
}
