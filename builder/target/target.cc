#include "target/target.h"

#include <elf.h>
#include <sys/utsname.h>

#include <fmt/format.h>

#include "common/error.h"

namespace romimg::target {

const std::vector<Target>& all_targets() {
    static const std::vector<Target> v = {
        {
            .name = "amd64",
            .kernel_arch = "x86_64",
            .seccomp_arch = "x86_64",
            .multiarch = "x86_64-linux-gnu",
            .interp = "/lib64/ld-linux-x86-64.so.2",
            .elf_machine = EM_X86_64,
            .elf_class = ELFCLASS64,
            .init = "romimg-init",
            .selftest = "romimg-selftest",
            .uefi = true,
            .linux32 = false,
            .squashfs_block = "256K",
            .qemu = "qemu-system-x86_64",
            .qemu_cpu = "",
            .qemu_nic = "virtio-net-pci",
            .qemu_package = "qemu-system-x86",
            .description = "64-bit x86 servers, BIOS or UEFI",
        },
        {
            .name = "i386",
            .kernel_arch = "i386",
            .seccomp_arch = "x86",
            .multiarch = "i386-linux-gnu",
            .interp = "/lib/ld-linux.so.2",
            .elf_machine = EM_386,
            .elf_class = ELFCLASS32,
            .init = "romimg-init-i386",
            .selftest = "romimg-selftest-i386",
            .uefi = false,
            .linux32 = true,
            .squashfs_block = "256K",
            .qemu = "qemu-system-i386",
            // The reference machine (PowerEdge 1550): a Pentium III, SSE but no SSE2, and its
            // Intel 82559 NIC.
            .qemu_cpu = "pentium3",
            .qemu_nic = "i82559er",
            .qemu_package = "qemu-system-x86",
            .description = "32-bit x86 servers (i686, no SSE2 needed), BIOS only",
        },
    };
    return v;
}

std::string target_names() {
    std::string out;
    for (const auto& t : all_targets()) out += (out.empty() ? "" : ", ") + t.name;
    return out;
}

const Target& target_named(const std::string& name, const std::string& flag) {
    for (const auto& t : all_targets())
        if (t.name == name) return t;
    std::string hint;
    if (name == "x86_64" || name == "x86-64") hint = " (Debian calls x86_64 amd64)";
    else if (name == "i686" || name == "i586" || name == "x86") hint = " (Debian calls 32-bit x86 i386)";
    throw UsageError(fmt::format("{} '{}' is not a target romimg builds{}: use one of {}", flag, name, hint,
                                 target_names()));
}

const Target* target_for_name(const std::string& name) {
    for (const auto& t : all_targets())
        if (t.name == name) return &t;
    return nullptr;
}

const Target& host_target() {
    struct utsname u;
    if (uname(&u) == 0 && std::string(u.machine) != "x86_64" &&
        (u.machine[0] == 'i' && std::string(u.machine).substr(2) == "86"))
        return target_named("i386");
    return all_targets().front();
}

const Target* target_for_kernel_arch(const std::string& kernel_arch) {
    for (const auto& t : all_targets())
        if (t.kernel_arch == kernel_arch) return &t;
    return nullptr;
}

}  // namespace romimg::target
