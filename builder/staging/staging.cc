#include "staging/staging.h"

#include <dirent.h>
#include <elf.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <regex>
#include <set>

#include <fmt/format.h>

#include "closure/closure.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/signals.h"
#include "common/strings.h"
#include "common/sys.h"
#include "dpkg/dpkg.h"
#include "jail/accounts.h"
#include "cache/inventory.h"

namespace romimg::staging {

namespace sfs = std::filesystem;

std::vector<std::string> staging_packages(const std::vector<recipe::ServiceTemplate>& templates,
                                          const std::vector<std::string>& host_owners) {
    std::set<std::string> all;
    auto add = [&](std::string p) {
        p = p.substr(0, p.find(':'));
        if (!p.empty()) all.insert(p);
    };
    for (const auto& t : templates) {
        for (const auto& p : t.packages) add(p);
        // [java] runtime = "jlink" links from the root's own JDK's jmods and runs its jlink.
        if (t.java.runtime == "jlink") add("default-jdk-headless");
    }
    for (const auto& p : host_owners) add(p);
    return {all.begin(), all.end()};
}

std::vector<std::string> host_owners(const std::vector<recipe::ServiceTemplate>& templates) {
    const dpkg::Database db = dpkg::Database::load();
    std::set<std::string> owners;
    auto take = [&](const std::string& glob) {
        for (const auto& path : closure::include_covers(glob)) {
            struct stat st;
            if (lstat(path.c_str(), &st) != 0 || S_ISDIR(st.st_mode)) continue;  // directories are shared
            if (const dpkg::Package* p = db.owner_of(path)) owners.insert(p->name);
        }
    };
    for (const auto& t : templates) {
        for (const auto& s : t.site) take(s);
        for (const auto& g : recipe::jail_includes(t)) take(g);
    }
    return {owners.begin(), owners.end()};
}

std::string staging_key(const target::Target& t, const std::vector<std::string>& packages, RootMaker maker) {
    // A root made under qemu-user is its own entry (its /dev comes out empty: no mknod in a
    // user namespace); the native key is what it always was.
    return fs::sha256_hex(fmt::format("romimg staging root v1\nsuite {}\narch {}\nvariant apt\npackages {}\n{}", kSuite,
                                      t.name, fmt::join(packages, " "),
                                      maker == RootMaker::qemu_user ? "maker qemu-user\n" : ""));
}

Command mmdebstrap_command(const target::Target& t, const std::vector<std::string>& packages, const sfs::path& dir,
                           const sfs::path& log) {
    // No mirror argument: deb.debian.org, and for a stable suite its updates and security too.
    Command c{{"mmdebstrap", "--mode=root", "--format=directory", "--variant=apt", "--arch=" + t.name}, {}, {}, log};
    if (!packages.empty()) c.argv.push_back(fmt::format("--include={}", fmt::join(packages, ",")));
    c.argv.push_back(kSuite);
    c.argv.push_back(dir.string());
    c.env = {{"LC_ALL", "C.UTF-8"}};
    return c;
}

std::string explain_mmdebstrap_failure(const std::string& log_text, const target::Target& t) {
    std::smatch m;
    static const std::regex locate(R"(Unable to locate package (\S+))");
    static const std::regex candidate(R"(Package '?([^' ]+)'? has no installation candidate)");
    if (std::regex_search(log_text, m, locate) || std::regex_search(log_text, m, candidate))
        return fmt::format("the package {} does not exist for {} in Debian 12 ({}): remove it from the template's "
                           "packages (or from what the host has installed under its [site] and include paths), or "
                           "build for another arch",
                           m[1].str(), t.name, kSuite);
    if (log_text.find("can neither be executed natively nor via qemu user emulation") != std::string::npos)
        return fmt::format("this host cannot run {} programs: enable 32-bit support in its kernel "
                           "(CONFIG_IA32_EMULATION, ia32_emulation=1), or install qemu-user-static and register "
                           "qemu-{} with binfmt_misc",
                           t.name, t.name);
    if (log_text.find("Temporary failure resolving") != std::string::npos ||
        log_text.find("Could not connect") != std::string::npos || log_text.find("Failed to fetch") != std::string::npos)
        return "Debian's mirror (deb.debian.org) could not be reached: check the network and proxy, then build again";
    return "";
}

namespace {

// A static program for the target's machine that only exits 0 (an ELF header, one PT_LOAD, and
// `mov eax,1; xor ebx,ebx; int 0x80` for i386).
std::string tiny_elf(const target::Target& t) {
    if (t.elf_machine != EM_386) return "";
    const uint32_t base = 0x08048000;
    const unsigned char code[] = {0xb8, 0x01, 0x00, 0x00, 0x00, 0x31, 0xdb, 0xcd, 0x80};
    Elf32_Ehdr eh{};
    memcpy(eh.e_ident, ELFMAG, SELFMAG);
    eh.e_ident[EI_CLASS] = ELFCLASS32;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    eh.e_type = ET_EXEC;
    eh.e_machine = EM_386;
    eh.e_version = EV_CURRENT;
    eh.e_entry = base + sizeof(Elf32_Ehdr) + sizeof(Elf32_Phdr);
    eh.e_phoff = sizeof(Elf32_Ehdr);
    eh.e_ehsize = sizeof(Elf32_Ehdr);
    eh.e_phentsize = sizeof(Elf32_Phdr);
    eh.e_phnum = 1;
    Elf32_Phdr ph{};
    ph.p_type = PT_LOAD;
    ph.p_vaddr = ph.p_paddr = base;
    ph.p_filesz = ph.p_memsz = sizeof(Elf32_Ehdr) + sizeof(Elf32_Phdr) + sizeof(code);
    ph.p_flags = PF_R | PF_X;
    ph.p_align = 0x1000;
    std::string out(reinterpret_cast<const char*>(&eh), sizeof eh);
    out.append(reinterpret_cast<const char*>(&ph), sizeof ph);
    out.append(reinterpret_cast<const char*>(code), sizeof code);
    return out;
}

// Every mount point at or below `dir` (deepest first), from /proc/self/mountinfo.
std::vector<std::string> mounts_under(const sfs::path& dir) {
    std::vector<std::string> out;
    for (const auto& line : split(fs::read_file("/proc/self/mountinfo"), '\n', true)) {
        std::vector<std::string> f = split(line, ' ', true);
        if (f.size() < 5) continue;
        std::string point;  // octal escapes (\040) for blanks
        for (size_t i = 0; i < f[4].size(); ++i) {
            if (f[4][i] == '\\' && i + 3 < f[4].size()) {
                point += (char)std::stoi(f[4].substr(i + 1, 3), nullptr, 8);
                i += 3;
            } else {
                point += f[4][i];
            }
        }
        if (fs::path_within(point, dir.string())) out.push_back(point);
    }
    std::sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
    return out;
}

// A staging root being made: removed (after detaching whatever mmdebstrap left mounted in it, so
// the removal never reaches the host's /dev or /proc) unless published.
class PendingRoot {
public:
    explicit PendingRoot(sfs::path dir) : dir_(std::move(dir)) {}
    ~PendingRoot() {
        if (published_) return;
        try {
            for (const auto& m : mounts_under(dir_)) ::umount2(m.c_str(), MNT_DETACH);
            if (mounts_under(dir_).empty()) {
                std::error_code ec;
                sfs::remove_all(dir_, ec);
            }
        } catch (...) {
        }
    }
    void publish(const sfs::path& final_dir) {
        signals::throw_if_interrupted();
        if (!mounts_under(dir_).empty())
            throw Error(fmt::format("mmdebstrap left mounts under {}: not publishing it", dir_.string()));
        if (::rename(dir_.c_str(), final_dir.c_str()) != 0) {
            if (errno != ENOTEMPTY && errno != EEXIST) throw SysError("rename", std::vector<std::string>{dir_.string(), final_dir.string()}, errno);
            return;  // a parallel build published the same root first: keep that one
        }
        published_ = true;
    }

private:
    sfs::path dir_;
    bool published_ = false;
};

std::string rel(const std::string& abs) { return abs.substr(abs.find_first_not_of('/')); }

}  // namespace

std::string binfmt_entry_emulator(const std::string& entry_text, const target::Target& t) {
    std::string interpreter, magic, mask;
    size_t offset = 0;
    bool enabled = false;
    for (const auto& line : split(entry_text, '\n', true)) {
        if (line == "enabled") enabled = true;
        else if (line.rfind("interpreter ", 0) == 0) interpreter = line.substr(12);
        else if (line.rfind("offset ", 0) == 0) offset = (size_t)std::strtoul(line.c_str() + 7, nullptr, 10);
        else if (line.rfind("magic ", 0) == 0) magic = line.substr(6);
        else if (line.rfind("mask ", 0) == 0) mask = line.substr(5);
    }
    const std::string elf = tiny_elf(t);
    if (!enabled || magic.empty() || magic.size() % 2 || elf.empty()) return "";
    auto byte = [](const std::string& hex, size_t i) { return (unsigned)std::stoul(hex.substr(2 * i, 2), nullptr, 16); };
    for (size_t i = 0; i < magic.size() / 2; ++i) {
        if (offset + i >= elf.size()) return "";
        const unsigned m = 2 * i + 1 < mask.size() ? byte(mask, i) : 0xff;
        if ((((unsigned char)elf[offset + i] ^ byte(magic, i)) & m) != 0) return "";  // as the kernel compares
    }
    return interpreter;
}

std::string binfmt_emulator(const target::Target& t, const sfs::path& dir) {
    std::error_code ec;
    if (t.name == target::host_target().name || !sfs::is_directory(dir, ec)) return "";
    for (const auto& e : sfs::directory_iterator(dir, ec)) {
        const std::string name = e.path().filename().string();
        if (name == "register" || name == "status") continue;
        std::string text;
        try {
            text = fs::read_file(e.path());
        } catch (const Error&) {
            continue;
        }
        if (std::string emu = binfmt_entry_emulator(text, t); !emu.empty()) return emu;
    }
    return "";
}

TraceRoute choose_route(const target::Target& t, std::optional<TraceRoute> asked, std::string& why) {
    if (t.name == target::host_target().name) {
        if (asked == TraceRoute::translated)
            throw UsageError(fmt::format("--trace-route translated: the image is for this host's own arch ({}), whose "
                                         "services are traced as they are; it is for an image of another arch",
                                         t.name));
        return TraceRoute::native;
    }
    if (asked == TraceRoute::translated) {
        why = "asked for (--trace-route translated)";
        return TraceRoute::translated;
    }
    std::string failed;
    const std::string emu = binfmt_emulator(t);
    if (emu.empty() && host_runs(t, failed)) return TraceRoute::native;
    why = emu.empty() ? fmt::format("this host cannot run {} programs itself ({})", t.name, failed)
                      : fmt::format("this host hands {} programs to {} (binfmt_misc), whose own system calls a trace "
                                    "would see",
                                    t.name, emu);
    if (asked == TraceRoute::native)
        throw UsageError(fmt::format("--trace-route native: {}; trace with --trace-route translated (the default here)", why));
    return TraceRoute::translated;
}

bool host_runs(const target::Target& t, std::string& why) {
    if (t.name == target::host_target().name) return true;
    const std::string elf = tiny_elf(t);
    if (elf.empty()) {
        why = fmt::format("romimg has no probe program for {}", t.name);
        return false;
    }
    fs::TempDir tmp(sfs::temp_directory_path(), "romimg-probe-");
    const sfs::path exe = tmp.path() / ("probe-" + t.name);
    fs::write_file_atomic(exe, elf);
    sfs::permissions(exe, sfs::perms::owner_all);
    try {
        int status = run_status(Command{{exe.string()}, {}, {}, tmp.path() / "log"});
        if (status == 0) return true;
        why = fmt::format("a static {} program exited with status {}", t.name, status);
    } catch (const SysError& e) {
        why = fmt::format("a static {} program could not run: {}", t.name, e.what());
    }
    return false;
}

sfs::path staging_root(const target::Target& t, const std::vector<std::string>& packages, const sfs::path& cache_dir,
                       const sfs::path& log, std::optional<RootMaker> asked) {
    auto stage = log::stage(fmt::format("staging root ({} {}, {} packages)", t.name, kSuite, packages.size()));
    std::string why;
    const RootMaker maker = choose_root_maker(t, asked, why);
    const std::string key = staging_key(t, packages, maker);
    const sfs::path roots = cache_dir / "roots";
    const sfs::path final_dir = roots / fmt::format("debian12-{}-{}", t.name, key.substr(0, 16));
    if (sfs::is_directory(final_dir / "root")) {
        cache::mark_used(final_dir);
        stage.detail(fmt::format("cached {}{}", final_dir.string(), maker == RootMaker::qemu_user ? " (made under qemu-user)" : ""));
        return final_dir / "root";
    }
    if (find_program("mmdebstrap").empty())
        throw Error("mmdebstrap not found: install it (`make deps`; Debian package mmdebstrap)");
    sfs::create_directories(roots);
    sfs::create_directories(log.parent_path());
    const sfs::path tmp = roots / fmt::format(".tmp-{}-{}", key.substr(0, 16), getpid());
    PendingRoot pending(tmp);
    sfs::create_directories(tmp);
    fs::write_file_atomic(tmp / "packages.txt", fmt::format("{}\n", fmt::join(packages, "\n")));
    fs::write_file_atomic(tmp / "made-by.txt", fmt::format("{}\n", to_string(maker)));
    log::info("    mmdebstrap: Debian 12 {} with {} (log: {})", t.name, fmt::join(packages, " "), log.string());
    const Command cmd = mmdebstrap_command(t, packages, tmp / "root", log);
    int status;
    if (maker == RootMaker::qemu_user) {
        const std::string emulator = find_program(qemu_user_program(t));
        log::info("    package scripts run under {} ({}): a private binfmt_misc in a namespace of romimg's own; "
                  "several times slower than native",
                  emulator, why);
        // Its mounts, the binfmt_misc instance and the registration live and die in that namespace.
        status = run_with_private_binfmt(cmd, binfmt_register_line(t, emulator));
    } else {
        // mmdebstrap mounts /proc and /dev in the root it makes: in romimg's own mount namespace,
        // so that a killed build leaves no mount on the host.
        own_mount_namespace();
        status = run_status(cmd);
    }
    if (status != 0) {
        const std::string text = sfs::exists(log) ? fs::read_file(log) : "";
        const std::string fix = explain_mmdebstrap_failure(text, t);
        throw Error(fmt::format("making the {} staging root failed (mmdebstrap exit {}): {}", t.name, status,
                                fix.empty() ? "see " + log.string() : fix + " (log: " + log.string() + ")"));
    }
    if (dpkg_arch_of(tmp / "root") != t.name)
        throw Error(fmt::format("mmdebstrap made a root whose dpkg arch is '{}', not {}", dpkg_arch_of(tmp / "root"), t.name));
    pending.publish(final_dir);
    stage.detail(fmt::format("made {}", final_dir.string()));
    return final_dir / "root";
}

namespace {

struct OwnerMap {
    std::map<unsigned, unsigned> uid, gid;
};

OwnerMap owner_map(const std::string& host_pw, const std::string& host_gr, const std::string& root_pw,
                   const std::string& root_gr) {
    OwnerMap m;
    std::map<std::string, unsigned> ru, rg;
    for (const auto& e : jail::parse_passwd(root_pw)) ru[e.name] = e.uid;
    for (const auto& e : jail::parse_group(root_gr)) rg[e.name] = e.gid;
    for (const auto& e : jail::parse_passwd(host_pw))
        if (ru.count(e.name)) m.uid[e.uid] = ru[e.name];
    for (const auto& e : jail::parse_group(host_gr))
        if (rg.count(e.name)) m.gid[e.gid] = rg[e.name];
    return m;
}

class SiteCopier {
public:
    explicit SiteCopier(OwnerMap m) : map_(std::move(m)) {}
    size_t files = 0, skipped = 0;

    // Copies the entry `name` of the host directory `dirfd` to `dest` (inside the view).
    void copy(int dirfd, const std::string& name, const std::string& dest) {
        signals::throw_if_interrupted();
        struct stat st;
        if (fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) throw SysError("fstatat", name, errno);
        const unsigned uid = map_.uid.count(st.st_uid) ? map_.uid[st.st_uid] : st.st_uid;
        const unsigned gid = map_.gid.count(st.st_gid) ? map_.gid[st.st_gid] : st.st_gid;
        const struct timespec times[2] = {st.st_atim, st.st_mtim};
        if (S_ISDIR(st.st_mode)) {
            if (mkdir(dest.c_str(), 0700) != 0 && errno != EEXIST) throw SysError("mkdir", dest, errno);
            Fd d = sys::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
            std::vector<std::string> names;
            {
                DIR* dir = fdopendir(dup(d.get()));
                if (!dir) throw SysError("fdopendir", dest, errno);
                while (struct dirent* e = readdir(dir))
                    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) names.push_back(e->d_name);
                closedir(dir);
            }
            std::sort(names.begin(), names.end());
            for (const auto& n : names) copy(d.get(), n, dest + "/" + n);
            check(lchown(dest.c_str(), uid, gid), "lchown", dest);
            check(chmod(dest.c_str(), st.st_mode & 07777), "chmod", dest);
            check(utimensat(AT_FDCWD, dest.c_str(), times, AT_SYMLINK_NOFOLLOW), "utimensat", dest);
        } else if (S_ISREG(st.st_mode)) {
            Fd in = sys::openat(dirfd, name, O_RDONLY | O_NOFOLLOW);
            Fd out = sys::open(dest, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
            sys::write_all(out.get(), sys::read_all(in.get()));
            check(fchown(out.get(), uid, gid), "fchown", dest);
            check(fchmod(out.get(), st.st_mode & 07777), "fchmod", dest);
            check(futimens(out.get(), times), "futimens", dest);
            ++files;
        } else if (S_ISLNK(st.st_mode)) {
            const std::string target = sys::readlinkat_or_empty(dirfd, name);
            if (target.empty()) throw SysError("readlinkat", name, errno);
            check(symlink(target.c_str(), dest.c_str()), "symlink", dest);
            check(lchown(dest.c_str(), uid, gid), "lchown", dest);
            check(utimensat(AT_FDCWD, dest.c_str(), times, AT_SYMLINK_NOFOLLOW), "utimensat", dest);
            ++files;
        } else {
            ++skipped;  // sockets, FIFOs, devices: never site content
        }
    }

private:
    OwnerMap map_;
    static void check(int rc, const char* call, const std::string& path) {
        if (rc != 0) throw SysError(call, path, errno);
    }
};

}  // namespace

size_t copy_site(RootView& view, const std::vector<recipe::ServiceTemplate>& templates) {
    std::set<std::string> paths;
    for (const auto& t : templates)
        for (const auto& p : t.site) {
            struct stat st;
            if (lstat(p.c_str(), &st) == 0) paths.insert(p);
        }
    // A path inside another one is copied with it.
    std::vector<std::string> top;
    for (const auto& p : paths)
        if (std::none_of(top.begin(), top.end(), [&](const std::string& q) { return fs::path_within(p, q); })) top.push_back(p);
    if (top.empty()) return 0;
    const std::string host_pw = fs::read_file("/etc/passwd"), host_gr = fs::read_file("/etc/group");
    size_t files = 0;
    view.inside([&] {
        SiteCopier copier(owner_map(host_pw, host_gr, fs::read_file("/etc/passwd"), fs::read_file("/etc/group")));
        for (const auto& p : top) {
            const sfs::path path(p);
            // The host's parent directory, resolved as on the host (its symlinks stay in the host's /).
            struct open_how how{};
            how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
            how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
            const std::string parent = path.parent_path() == "/" ? "." : rel(path.parent_path().string());
            int fd = (int)syscall(SYS_openat2, view.host_root_fd(), parent.c_str(), &how, sizeof how);
            if (fd < 0) throw SysError("openat2", "the host's " + path.parent_path().string(), errno);
            Fd host_parent(fd);
            std::error_code ec;
            sfs::remove_all(path, ec);  // the package's defaults: an overlay whiteout, the root is untouched
            sfs::create_directories(path.parent_path());
            copier.copy(host_parent.get(), path.filename().string(), p);
        }
        files = copier.files;
    });
    return files;
}

}  // namespace romimg::staging
