#include "rootfs/rootfs.h"

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/sys.h"
#include "data_disk.h"
#include "seccomp/filter.h"

namespace romimg::rootfs {

appliance::Service service_entry(const recipe::ServiceTemplate& t, const jail::JailPlan& plan, bool exec_lock,
                                 const std::string& root) {
    appliance::Service s;
    s.name = t.name;
    s.root = root.empty() ? "/jail/" + t.name : root;
    const std::string prefix = s.root == "/" ? "" : s.root;
    s.uid = plan.accounts.uid;
    s.gid = plan.accounts.gid;
    s.groups = plan.accounts.groups;
    for (const auto& c : t.capabilities) {
        std::string lower;
        for (char ch : c) lower += (char)tolower(ch);
        s.caps.push_back(lower);
    }
    s.argv = t.command;
    s.env.push_back("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    s.env.push_back("HOME=/");
    for (const auto& [k, v] : t.environment)
        if (k != "PATH" && k != "HOME") s.env.push_back(k + "=" + v);
    s.cwd = t.cwd;
    s.ready = t.ready;
    s.ready_timeout = t.ready_timeout;
    s.stop_signal = sys::signal_number(t.stop_signal);
    if (s.stop_signal < 0) throw ConfigError(t.file, 0, "unknown stop_signal " + t.stop_signal);
    s.stop_timeout = t.stop_timeout;
    s.exec_lock = exec_lock && t.exec_lock;
    for (const auto& [k, v] : t.rlimits) s.rlimits.emplace_back(k, v);
    if (!t.rlimits.count("nofile")) s.rlimits.emplace_back("nofile", t.limits.files);
    s.memory_max = t.limits.memory;
    s.tasks_max = t.limits.tasks;
    s.restart_limit = t.limits.restarts;
    s.memory_needed = t.limits.memory_needed;
    s.java_heap = t.java.heap;
    for (const auto& m : plan.mounts) {
        std::string target = prefix + m.target;
        s.mounts.push_back({m.type, target, m.type == "tmpfs" ? m.options : ""});
    }
    for (const auto& l : t.logs) s.logs.push_back(prefix + l);
    for (const auto& w : t.writable)
        if (w.logs) s.log_dirs.push_back(prefix + w.path);
    for (const auto& d : t.data.paths) s.data.push_back(prefix + d);
    s.data_missing = t.data.missing;
    s.data_size = t.data.size;
    s.devices = plan.devices;
    if (s.exec_lock) s.start_execs = plan.start_execs;
    // A jlink'd runtime's CDS archive: the JVM silently runs without one it rejects.
    if (plan.java && !plan.java->cds.empty()) s.expect_maps.push_back(prefix + plan.java->home + "/lib/server/classes.jsa");
    if (plan.seccomp.mode != seccomp::Mode::off) {
        s.seccomp = seccomp::to_string(plan.seccomp.mode);
        s.seccomp_filter = seccomp::filter_path(t.name);
    }
    return s;
}

std::string pseudo_definitions(const std::vector<JailInRoot>& jails) {
    std::string out;
    for (const auto& j : jails)
        for (const auto& n : j.plan->nodes)
            if (n.kind == jail::JailNode::device)
                out += fmt::format("jail/{}{} c {:o} {} {} {} {}\n", j.tmpl->name, n.path, n.mode, n.uid, n.gid,
                                   n.major, n.minor);
    return out;
}

Command mksquashfs_command(const std::filesystem::path& tree, const std::filesystem::path& out,
                           const std::filesystem::path& pseudo, const std::string& compression, const std::string& block,
                           time_t epoch, const std::filesystem::path& log) {
    Command c;
    c.argv = {"mksquashfs", tree.string(), out.string(), "-noappend", "-comp", compression,
              "-mkfs-time", std::to_string(epoch), "-all-time", std::to_string(epoch),
              "-pf", pseudo.string(), "-no-progress", "-quiet"};
    if (compression == "xz") {
        // The target's block (target.h squashfs_block: memory at run time against size). No
        // -Xbcj x86: the appliance kernel's xz decoder has no BCJ filter (CONFIG_XZ_DEC_X86), and
        // trying it doubles the compression time.
        c.argv.insert(c.argv.end(), {"-b", block});
    } else if (compression == "zstd") {
        c.argv.insert(c.argv.end(), {"-Xcompression-level", "3"});
    }
    c.log = log;
    return c;
}

namespace {

// Recreates `src` under `dst` with hard links for everything that is not a directory, and
// directories with the same owner and mode: a copy of a jail that costs no space.
void link_tree(const std::filesystem::path& src, const std::filesystem::path& dst) {
    static thread_local std::string s_src, s_dst;
    static thread_local std::string error;
    s_src = src.string();
    s_dst = dst.string();
    error.clear();
    auto cb = [](const char* path, const struct stat*, int type, struct FTW*) -> int {
        std::string rel = std::string(path).substr(s_src.size());
        std::string to = s_dst + rel;
        if (rel == "/.romimg-jail") return 0;
        if (type == FTW_D) {
            if (mkdir(to.c_str(), 0700) < 0 && errno != EEXIST) return error = "mkdir " + to, 1;
        } else if (link(path, to.c_str()) < 0) {
            return error = "link " + to + ": " + strerror(errno), 1;
        }
        return 0;
    };
    if (nftw(s_src.c_str(), cb, 64, FTW_PHYS) != 0) throw Error("cannot stage the jail " + s_src + ": " + error);
    // Directory owners and modes, deepest first (a read-only dir must not block its children).
    auto fix = [](const char* path, const struct stat* st, int type, struct FTW*) -> int {
        if (type != FTW_DP) return 0;
        std::string to = s_dst + std::string(path).substr(s_src.size());
        if (lchown(to.c_str(), st->st_uid, st->st_gid) < 0 || chmod(to.c_str(), st->st_mode & 07777) < 0)
            return error = "chmod " + to, 1;
        return 0;
    };
    if (nftw(s_src.c_str(), fix, 64, FTW_PHYS | FTW_DEPTH) != 0) throw Error("cannot stage the jail " + s_src + ": " + error);
}

// Modes are normalized (0755 directories and executables, 0644 the rest): a checkout's modes
// depend on the umask of whoever cloned it, and the image must not.
void copy_overlays(const std::filesystem::path& from, const std::filesystem::path& to) {
    namespace sfs = std::filesystem;
    if (!sfs::exists(from)) return;
    for (const auto& e : sfs::recursive_directory_iterator(from)) {
        auto rel = sfs::relative(e.path(), from);
        if (rel.filename() == "README.md" && rel.parent_path().empty()) continue;
        auto dst = to / rel;
        if (e.is_directory()) {
            sfs::create_directories(dst);
            sfs::permissions(dst, sfs::perms(0755));
        } else {
            sfs::copy_file(e.path(), dst, sfs::copy_options::overwrite_existing);
            bool exec = (e.status().permissions() & sfs::perms::owner_exec) != sfs::perms::none;
            sfs::permissions(dst, sfs::perms(exec ? 0755 : 0644));
        }
    }
}

// Each service's compiled filter (root's only: outside every jail) and the syscall names of its
// arch, for init's reports.
void write_seccomp_filters(const std::vector<JailInRoot>& jails, const std::filesystem::path& tree) {
    namespace sfs = std::filesystem;
    std::string arch;
    for (const auto& j : jails) {
        if (j.plan->seccomp.mode == seccomp::Mode::off) continue;
        const sfs::path dir = tree / std::string(appliance::kSeccompDir).substr(1);
        sfs::create_directories(dir);
        sfs::permissions(dir, sfs::perms(0755));
        const std::string bpf = seccomp::filter_path(j.tmpl->name);
        fs::write_file_atomic(tree / bpf.substr(1), seccomp::compile_filter(j.plan->seccomp), 0600);
        // What it allows, by name, for the self-test (which picks a syscall it does not allow).
        std::string names;
        for (const auto& r : j.plan->seccomp.allow) names += r.name + "\n";
        fs::write_file_atomic(tree / (bpf.substr(1, bpf.size() - 5) + ".allow"), names, 0644);
        arch = j.plan->seccomp.arch;
    }
    if (!arch.empty()) fs::write_file_atomic(tree / std::string(appliance::kSeccompSyscalls).substr(1), seccomp::syscall_table(arch), 0644);
}

}  // namespace

RootfsResult build_rootfs(const RootfsRequest& req) {
    namespace sfs = std::filesystem;
    {
        // Init would halt on a policy it cannot write: refuse such a root before packing it.
        std::vector<std::string> policy;
        std::string error;
        if (!appliance::romlock_policy(req.conf, policy, error)) throw Error(error);
    }
    sfs::path stage_dir = req.work / "rootfs";
    fs::remove_tree(stage_dir);
    sfs::path tree = stage_dir / "tree";
    // Explicit modes, whatever the builder's umask.
    for (const char* d : {"sbin", "etc", "etc/romimg", "jail", "var", "tmp", "run", "dev", "proc", "sys"}) {
        sfs::create_directories(tree / d);
        sfs::permissions(tree / d, sfs::perms(0755));
    }
    sfs::permissions(tree, sfs::perms(0755));
    sfs::permissions(tree / "tmp", sfs::perms(01777));
    copy_overlays(req.overlays, tree);
    sfs::copy_file(req.init_binary, tree / "sbin/init");
    sfs::permissions(tree / "sbin/init", sfs::perms(0755));
    if (!req.e2fsck.empty()) {
        // The data disk's checker, run by init before it mounts the disk (docs/data-disk.md).
        const sfs::path to = tree / sfs::path(appliance::kE2fsck).relative_path();
        for (sfs::path d = to.parent_path(); d != tree; d = d.parent_path()) {
            sfs::create_directories(d);
            sfs::permissions(d, sfs::perms(0755));
        }
        sfs::copy_file(req.e2fsck, to);
        sfs::permissions(to, sfs::perms(0755));
    }
    fs::write_file_atomic(tree / "etc/romimg/appliance.conf", appliance::format_conf(req.conf), 0644);
    for (const auto& j : req.jails) link_tree(j.tree, tree / "jail" / j.tmpl->name);
    write_seccomp_filters(req.jails, tree);
    if (req.conf.debug_shell) {
        // Outside the jails there is normally no shell at all; --debug-shell adds a static one.
        const sfs::path busybox = "/bin/busybox";
        if (!sfs::exists(busybox)) throw Error("--debug-shell needs busybox-static (apt-get install busybox-static, or `make deps`)");
        sfs::create_directories(tree / "bin");
        sfs::permissions(tree / "bin", sfs::perms(0755));
        sfs::copy_file(busybox, tree / "bin/busybox");
        sfs::permissions(tree / "bin/busybox", sfs::perms(0755));
        sfs::create_symlink("busybox", tree / "bin/sh");
    }

    sfs::path pseudo = stage_dir / "pseudo";
    fs::write_file_atomic(pseudo, pseudo_definitions(req.jails));
    sfs::path out = stage_dir / "root.sqfs";
    run(mksquashfs_command(tree, out, pseudo, req.compression, req.block, req.epoch, req.log));
    return {out, (uint64_t)sfs::file_size(out)};
}

}  // namespace romimg::rootfs
