// The machine an image is for, as one value: `romimg build --arch amd64|i386` (or romimg.toml's
// `arch =`) picks a Target, and the pipeline passes it to every stage that differs between
// machines (the root it builds from, the trace, the seccomp filters, the kernel, init, the boot
// loaders, the QEMU that tests it). Pure data; nothing here touches the host.
#pragma once

#include <string>
#include <vector>

namespace romimg::target {

struct Target {
    std::string name;          // what --arch takes and image.json records: the Debian arch
    std::string kernel_arch;   // `make ARCH=`, kernel-config/<kernel_arch>.config
    std::string seccomp_arch;  // libseccomp's name (the filter's only arch)
    std::string multiarch;     // Debian's multiarch triplet (/usr/lib/<triplet>)
    std::string interp;        // its glibc's dynamic linker (PT_INTERP), as its programs name it
    int elf_machine = 0;       // EM_* of the programs and libraries it runs
    int elf_class = 0;         // ELFCLASS32/64
    std::string init;          // the romimg-init build target for it (static)
    std::string selftest;      // the romimg-selftest build target for it (static)
    bool uefi = false;         // the ISO carries an EFI boot image (i386 servers boot BIOS only)
    bool linux32 = false;      // services are traced under PER_LINUX32 (uname -m says i686)
    // The root squashfs' block size with xz. Each mounted squashfs keeps about five blocks in
    // memory for good (its fragment, page and decompressor caches): 1M costs ~5 MiB, which a
    // 32 MB i386 machine does not have, and a page evicted under memory pressure costs a whole
    // block's decompression to read back (a 128 MB machine compiling a JSP thrashed for minutes);
    // 256K costs ~1.25 MiB and 4-5 % more ISO (docs/limits.md). Both targets use 256K.
    std::string squashfs_block;
    // The QEMU that boots it in tests, `romimg boot` and `romimg verify`.
    std::string qemu;          // qemu-system-x86_64
    std::string qemu_cpu;      // "" = QEMU's default for the machine
    std::string qemu_nic;      // -device model
    std::string qemu_package;  // Debian package that has it (for errors)
    std::string description;   // one line, for --help and errors
};

// Every target romimg builds, the build host's first.
const std::vector<Target>& all_targets();
// "amd64, i386", for messages.
std::string target_names();
// The target named `name` (its Debian arch). Throws UsageError listing the supported ones;
// `flag` is how the user gave it ("--arch", "romimg.toml arch").
const Target& target_named(const std::string& name, const std::string& flag = "--arch");
// The target named `name`, or nullptr (for names read from an image).
const Target* target_for_name(const std::string& name);
// The build host's own arch (what --arch defaults to).
const Target& host_target();
// The target with this kernel ARCH (x86_64, i386), or nullptr.
const Target* target_for_kernel_arch(const std::string& kernel_arch);

}  // namespace romimg::target
