// `romimg boot`: boot an ISO under QEMU (TCG) with the serial console on this terminal, as a
// CD or a USB stick, BIOS or UEFI, with TCP ports forwarded from 127.0.0.1.
#include <cstdlib>

#include <fmt/format.h>

#include "cli/cli.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "image/image_info.h"
#include "qemu/qemu.h"
#include "target/target.h"

namespace romimg::cli {

namespace {

const char* const boot_usage =
    "usage: romimg boot ISO [--uefi] [--secure-boot --sign-cert CERT] [--usb] [--forward HOSTPORT:GUESTPORT]...\n"
    "                       [--tap IFACE] [--mem MB] [--smp N] [--data FILE [--data-bus BUS]]\n"
    "\n"
    "Boots ISO in QEMU (TCG, no KVM) with the serial console on this terminal. Ctrl-A X quits\n"
    "QEMU; Ctrl-A C switches to QEMU's monitor (`system_powerdown` presses the power button,\n"
    "`sendkey ctrl-alt-delete` reboots). Forwarded ports listen on 127.0.0.1 only.\n"
    "\n"
    "options:\n"
    "  --uefi                   boot through UEFI firmware (OVMF) instead of the BIOS\n"
    "  --secure-boot            UEFI with Secure Boot on (OVMF's Secure Boot build, q35 + SMM),\n"
    "  --sign-cert CERT         trusting only CERT (PEM or DER; enrolled as PK, KEK and db in a\n"
    "                           fresh variable store): a signed image (romimg build --sign-key)\n"
    "                           boots, anything else is refused by the firmware\n"
    "  --usb                    attach the ISO as a USB stick instead of a CD-ROM\n"
    "  --forward HOST:GUEST     forward TCP 127.0.0.1:HOST to the guest's port GUEST\n"
    "                           (repeatable), e.g. --forward 8080:80\n"
    "  --tap IFACE              the guest's NIC on the host's TAP interface IFACE (made and\n"
    "                           addressed by you, e.g. `ip tuntap add IFACE mode tap`) instead\n"
    "                           of QEMU's user network; build the image with --net static:...\n"
    "                           on that link. No --forward then. For load tests: QEMU's forwards\n"
    "                           accept one pending connection at a time (bench/load)\n"
    "  --data FILE              attach FILE (`romimg data-disk`) as the appliance's data disk,\n"
    "                           writable: what its services keep there is in FILE afterwards\n"
    "  --data-bus BUS           the data disk's bus: virtio (default), ide, sata, scsi or usb\n"
    "  --mem MB                 guest memory (default 512)\n"
    "  --smp N                  virtual CPUs (default 1; TCG runs each on a host thread)\n";

int boot_main(const GlobalOptions&, const std::vector<std::string>& args) {
    bool uefi = false, usb = false, secure_boot = false;
    std::string sign_cert;
    int mem = 512, cpus = 1;
    std::vector<std::string> forwards;
    std::string tap, data, data_bus;
    ArgParser p("boot", boot_usage, args);
    p.option("--data", data);
    p.option("--data-bus", data_bus);
    p.option("--tap", tap);
    p.flag("--uefi", uefi);
    p.flag("--usb", usb);
    p.flag("--secure-boot", secure_boot);
    p.option("--sign-cert", sign_cert);
    p.repeated("--forward", forwards);
    p.option("--mem", mem);
    p.option("--smp", cpus);
    auto positional = p.parse();
    if (positional.size() != 1)
        throw UsageError(fmt::format("romimg boot takes one ISO, got {} arguments\n"
                                     "  (see `romimg boot --help`)",
                                     positional.size()));

    qemu::QemuSpec spec;
    spec.iso = positional[0];
    if (!std::filesystem::is_regular_file(spec.iso))
        throw Error(fmt::format("no ISO at {}", spec.iso.string()));
    // The machine the image is for (image.json's arch; an ISO romimg did not make boots as amd64).
    std::string arch = "amd64";
    try {
        arch = image::read_image_info(spec.iso).arch;
    } catch (const Error&) {
    }
    const target::Target& tgt = target::target_named(arch, "image.json arch");
    if (secure_boot && sign_cert.empty())
        throw UsageError("--secure-boot needs --sign-cert CERT.pem: the certificate the firmware is to trust");
    if (!sign_cert.empty() && !secure_boot) throw UsageError("--sign-cert is for --secure-boot");
    uefi |= secure_boot;
    if (uefi && !tgt.uefi)
        throw UsageError(fmt::format("--uefi: {} is an {} image, which boots through the BIOS only", spec.iso.string(), tgt.name));
    qemu::apply_target(spec, tgt);
    spec.firmware = uefi ? qemu::Firmware::uefi : qemu::Firmware::bios;
    spec.secure_boot = secure_boot;
    spec.medium = usb ? qemu::Medium::usb : qemu::Medium::cdrom;
    spec.mem_mb = mem;
    spec.cpus = cpus;
    for (const auto& f : forwards) spec.forwards.push_back(qemu::parse_forward(f));
    spec.tap = tap;
    if (!data_bus.empty() && data.empty()) throw UsageError("--data-bus is for --data FILE");
    if (!data.empty()) {
        if (!std::filesystem::is_regular_file(data))
            throw Error(fmt::format("--data {}: no such file (make one with `romimg data-disk {} --size 1g`)", data, data));
        spec.data_disk = data;
        if (!data_bus.empty()) spec.data_bus = data_bus;
    }
    {
        // Usage errors (ports, memory) before anything is created.
        auto check = spec;
        if (uefi) check.ovmf_vars = qemu::kOvmfVarsTemplate;
        qemu::qemu_command(check);
    }
    if (!std::filesystem::is_regular_file(spec.iso))
        throw Error(fmt::format("no ISO at {}", spec.iso.string()));
    image::check_bootable_iso(spec.iso);  // anything else would sit at a firmware prompt

    // The UEFI variable store is per boot, in a temporary directory removed afterwards.
    std::optional<fs::TempDir> tmp;
    if (uefi) {
        tmp.emplace(fs::temp_parent(), "romimg-boot-");
        spec.ovmf_vars = secure_boot ? qemu::prepare_secure_boot_vars(tmp->path(), sign_cert)
                                     : qemu::prepare_uefi_vars(tmp->path());
    }
    std::string fw = fmt::format("{} {}", tgt.name, secure_boot ? "UEFI Secure Boot" : uefi ? "UEFI" : "BIOS");
    std::string medium = usb ? "USB stick" : "CD";
    std::string fwd;
    for (const auto& f : spec.forwards) fwd += fmt::format(" 127.0.0.1:{}->{}", f.host, f.guest);
    if (!spec.tap.empty()) fwd = " (none: its NIC is on " + spec.tap + ")";
    if (!spec.data_disk.empty()) medium += fmt::format(", data disk {} ({})", spec.data_disk.string(), spec.data_bus);
    log::info("==> boot: {} as a {} {} with {} MB and {} CPU(s) (QEMU TCG){}{}; Ctrl-A X quits", spec.iso.string(),
              fw, medium, mem, cpus, fwd.empty() ? "" : ", forwarding", fwd);
    int status = qemu::run_interactive(spec);
    if (status != 0) log::warn("QEMU exited with status {}", status);
    return status == 0 ? 0 : 1;
}

}  // namespace

Subcommand boot_command() {
    return {"boot", "boot an ISO in QEMU (BIOS/UEFI, CD/USB) with the console on this terminal",
            boot_usage, boot_main};
}

}  // namespace romimg::cli
