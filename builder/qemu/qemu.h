// Booting an ISO under QEMU (TCG): the argv (pure), an interactive run for `romimg boot`, and a
// headless Machine for tests and `romimg verify`: serial console captured to a file, bounded
// waits for a console line, QMP commands (power button, Ctrl+Alt+Del) over a unix socket.
// Side effects: files under the caller's work dir (serial log, QMP socket, UEFI vars copy);
// a Machine's QEMU is killed and reaped when the object goes away.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <sys/types.h>
#include <vector>

#include "common/command.h"
#include "common/fs.h"
#include "target/target.h"

namespace romimg::qemu {

enum class Firmware { bios, uefi };
// cdrom: an IDE CD-ROM drive (El Torito, 2048-byte sectors). usb: the ISO as a USB stick
// (usb-storage behind EHCI, 512-byte sectors), so firmware boots through the hybrid MBR and
// its partitions, and the kernel finds the medium as a USB disk after USB enumeration, as
// with a real stick.
enum class Medium { cdrom, usb };

struct Forward {  // tcp 127.0.0.1:host → guest
    uint16_t host = 0, guest = 0;
};
// "8080:80" → {8080, 80}. Throws UsageError.
Forward parse_forward(const std::string& s);
// A TCP port on 127.0.0.1 that is free right now (for the host side of a forward).
uint16_t free_local_port();

struct QemuSpec {
    std::filesystem::path iso;
    // The machine: the emulator, its CPU model ("" = QEMU's default) and NIC (target::Target's
    // qemu fields; apply_target sets them from an image's arch).
    std::string system = "qemu-system-x86_64";
    std::string cpu;
    std::string nic = "virtio-net-pci";
    std::string package = "qemu-system-x86";
    Firmware firmware = Firmware::bios;
    Medium medium = Medium::cdrom;
    std::vector<Forward> forwards;
    // A host TAP interface instead of QEMU's user network (then no forwards): the guest's NIC on
    // a link of the host's own TCP stack. QEMU's port forwards listen with a backlog of 1, so
    // many clients connecting at once lose SYNs on the host and wait seconds (bench/load).
    std::string tap;
    // The appliance's data disk (a raw image, `romimg data-disk`), writable, on this bus:
    // virtio, ide, sata (AHCI), scsi (virtio-scsi) or usb. "" = none.
    std::filesystem::path data_disk;
    std::string data_bus = "virtio";
    // An Intel 6300ESB watchdog (PCI), which the appliance kernel drives: init pets it.
    bool watchdog = false;
    int mem_mb = 512;
    int cpus = 1;
    std::filesystem::path ovmf_code = "/usr/share/OVMF/OVMF_CODE_4M.fd";
    std::filesystem::path ovmf_vars;  // the writable copy (prepare_uefi_vars); uefi only
    // UEFI Secure Boot: OVMF's Secure Boot build on a q35 machine with SMM (it keeps the
    // variables out of the OS's reach), ovmf_vars from prepare_secure_boot_vars.
    bool secure_boot = false;
    // Serial console: empty = the terminal (with the monitor: Ctrl-A X quits, Ctrl-A C
    // switches), else this file (headless).
    std::filesystem::path serial_log;
    std::filesystem::path qmp_socket;  // empty = none
    bool no_reboot = false;            // a guest reboot ends QEMU instead
};

inline constexpr const char* kOvmfVarsTemplate = "/usr/share/OVMF/OVMF_VARS_4M.fd";
inline constexpr const char* kOvmfSecureCode = "/usr/share/OVMF/OVMF_CODE_4M.secboot.fd";

// The spec's machine fields from the target an image is for.
void apply_target(QemuSpec& spec, const target::Target& t);

// The whole QEMU command line (pure). Throws UsageError on an impossible spec
// (no ISO, bad memory size, UEFI without a vars file, a host port used twice).
Command qemu_command(const QemuSpec& spec);

// Copies the OVMF variable store template to dir/OVMF_VARS_4M.fd (fresh each boot: firmware
// writes boot entries there) and returns its path.
std::filesystem::path prepare_uefi_vars(const std::filesystem::path& dir,
                                        const std::filesystem::path& tmpl = kOvmfVarsTemplate);

// A fresh variable store in `dir` with Secure Boot on and the certificate `cert` (PEM or DER)
// enrolled as PK, KEK and db (firmware/ovmf_vars.h); its subject goes to `subject`.
std::filesystem::path prepare_secure_boot_vars(const std::filesystem::path& dir, const std::filesystem::path& cert,
                                               std::string* subject = nullptr);
// Interactive: QEMU on this terminal until it exits. Returns its exit status.
int run_interactive(const QemuSpec& spec);

// A headless QEMU. start() fills in serial_log/qmp_socket under `dir` when they are empty (the
// socket goes to a short temporary directory instead when `dir` is too long for a unix socket
// path).
class Machine {
public:
    static Machine start(QemuSpec spec, const std::filesystem::path& dir);
    ~Machine();
    Machine(Machine&& o) noexcept;
    Machine& operator=(Machine&&) = delete;
    Machine(const Machine&) = delete;
    Machine& operator=(const Machine&) = delete;

    // The first console line (from the start, or after the last match when `from_last` is
    // true) that matches `pattern`, waiting at most `timeout`. nullopt on timeout or when QEMU
    // exits first. Lines have their '\r' removed.
    std::optional<std::string> wait_for_line(const std::regex& pattern,
                                             std::chrono::milliseconds timeout,
                                             bool from_last = true);
    // Everything the console printed so far.
    std::string console() const;

    // One QMP command: {"execute": name, "arguments": args_json} ("" = no arguments).
    // Returns the "return" value as JSON text; throws Error with QMP's error message.
    std::string qmp(const std::string& name, const std::string& args_json = "");
    // A human-monitor command through QMP ("info status"); returns its output.
    std::string hmp(const std::string& command_line);
    void power_button() { qmp("system_powerdown"); }  // ACPI power button press
    void ctrl_alt_del();                              // keyboard Ctrl+Alt+Del
    // QMP events seen so far ("SHUTDOWN", "RESET", "POWERDOWN", ...), in order.
    const std::vector<std::string>& events() const { return events_; }
    // Waits until events()[i] == name for some i >= from (take `from` = events().size()
    // before the action whose event you expect). False on timeout or when QEMU exits first.
    bool wait_event(const std::string& name, std::chrono::milliseconds timeout, size_t from = 0);

    // Waits for QEMU to exit on its own: its exit status, or nullopt after `timeout`.
    std::optional<int> wait_exit(std::chrono::milliseconds timeout);
    bool running();
    // quit over QMP, then SIGKILL if needed; reaps. Returns the exit status (or -signal).
    int stop();

    const QemuSpec& spec() const { return spec_; }
    pid_t pid() const { return pid_; }

private:
    Machine() = default;
    void connect_qmp();
    // Reads what QMP sends within `timeout_ms`: events into events_, replies into replies_.
    // False once QEMU has closed the socket.
    bool pump_qmp(int timeout_ms);
    std::string qmp_read_reply();
    QemuSpec spec_;
    pid_t pid_ = -1;
    std::optional<int> status_;
    int qmp_fd_ = -1;
    std::string qmp_buf_;
    struct QmpReply {
        bool error;
        std::string text;  // the "return" value as JSON, or the error's description
    };
    std::vector<QmpReply> replies_;
    std::vector<std::string> events_;
    size_t scan_offset_ = 0;  // console bytes already matched past
    std::unique_ptr<fs::TempDir> socket_dir_;  // only when `dir` was too long for the socket
};

}  // namespace romimg::qemu
