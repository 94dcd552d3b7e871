#include "jail/jail.h"

#include <algorithm>
#include <cerrno>
#include <fcntl.h>
#include <set>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <fmt/format.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/sys.h"
#include "appliance_conf.h"

namespace romimg::jail {

using closure::Reason;
using trace::FileType;

namespace {

std::string parent_of(const std::string& p) { return std::filesystem::path(p).parent_path().string(); }

}  // namespace

std::string allowed_device_list() {
    std::string out;
    for (const auto& d : appliance::allowed_devices()) out += (out.empty() ? "" : ", ") + std::string(d.path);
    return out;
}

JailPlan plan_jail(const closure::FileSet& files, const recipe::ServiceTemplate& t,
                   const JailAccounts& accounts) {
    JailPlan plan;
    plan.service = t.name;
    plan.findings = files.findings;
    plan.accounts = accounts;
    plan.capabilities = t.capabilities;
    std::map<std::string, JailNode> nodes;
    std::vector<std::string> traced_devices;

    for (const auto& w : t.writable)
        for (const auto& log : t.logs)
            if (fs::path_within(log, w.path))
                throw ConfigError(t.file, 0, fmt::format("log file {} is inside writable dir {}: the tmpfs "
                                                         "would hide its FIFO (make the log dir not writable)",
                                                         log, w.path));

    auto hidden = [&](const std::string& path) {
        for (const auto& w : t.writable)
            if (path != w.path && fs::path_within(path, w.path)) return true;
        return false;
    };
    // Directories between / and `path`, with the host's modes where the closure knows them.
    auto ensure_parents = [&](const std::string& path) {
        for (std::string p = parent_of(path); ; p = parent_of(p)) {
            if (!nodes.count(p)) {
                JailNode d;
                d.kind = JailNode::dir;
                d.path = p;
                auto it = files.entries.find(p);
                if (it != files.entries.end() && it->second.type == FileType::dir) {
                    d.mode = it->second.mode & 07777;
                    d.uid = it->second.uid;
                    d.gid = it->second.gid;
                }
                d.reason = Reason::closure;
                d.why = "parent directory";
                nodes[p] = d;
            }
            if (p == "/") break;
        }
    };

    for (const auto& [path, e] : files.entries) {
        if (path == "/etc/passwd" || path == "/etc/group") continue;  // generated below
        if (hidden(path)) {
            if (e.type != FileType::dir)
                plan.findings.push_back({"warning", path, "not copied: a writable tmpfs is mounted over it in the jail"});
            continue;
        }
        JailNode n;
        n.path = path;
        n.mode = e.mode & 07777;
        n.uid = e.uid;
        n.gid = e.gid;
        n.size = e.size;
        n.reason = e.reason;
        n.why = e.why;
        switch (e.type) {
        case FileType::dir: n.kind = JailNode::dir; break;
        case FileType::symlink: n.kind = JailNode::symlink; n.target = e.target; break;
        case FileType::file:
            if (!e.hardlink_of.empty()) {
                n.kind = JailNode::hardlink;
                n.source = e.hardlink_of;
            } else {
                n.kind = JailNode::file;
                n.source = path;
            }
            break;
        case FileType::device:
            // Made below from the allow-list, with the numbers Linux gives it: the trace saw the
            // service open it, so the service gets it.
            if (appliance::find_device(path)) traced_devices.push_back(path);
            else plan.findings.push_back({"dropped", path, "device not on the allow-list"});
            continue;
        default:
            continue;  // fifos, sockets: made at run time by the service
        }
        nodes[path] = n;
        if (path != "/") ensure_parents(path);
    }

    // Every jail's devices, then what the template asked for, then what the trace saw opened. On
    // the appliance each node is a mount point: init binds the real device over it (the root
    // squashfs is nodev, so the node itself never opens).
    auto add_device = [&](const std::string& dev, Reason reason, const std::string& why) {
        const appliance::DeviceKind* kind = appliance::find_device(dev);
        if (!kind)  // parse_template refuses these with the line; a plan built by hand may not have been parsed
            throw ConfigError(t.file, 0, fmt::format("jail.devices: '{}' is not a device a jail may have (allowed: {})",
                                                     dev, allowed_device_list()));
        if (std::find(plan.devices.begin(), plan.devices.end(), dev) != plan.devices.end()) return;
        plan.devices.push_back(dev);
        JailNode n;
        n.kind = JailNode::device;
        n.path = dev;
        n.mode = 0666;
        n.major = kind->major;
        n.minor = kind->minor;
        n.reason = reason;
        n.why = why;
        nodes[dev] = n;
        ensure_parents(dev);
    };
    for (const auto& dev : appliance::standard_devices()) add_device(dev, Reason::basics, "standard device");
    for (const auto& dev : t.devices) add_device(dev, Reason::include, "jail.devices in the template");
    for (const auto& dev : traced_devices) add_device(dev, Reason::traced, "opened while tracing");
    for (const auto& [name, content] : {std::pair{"/etc/passwd", accounts.passwd}, {"/etc/group", accounts.group}}) {
        JailNode n;
        n.kind = JailNode::generated;
        n.path = name;
        n.content = content;
        n.mode = 0644;
        n.size = content.size();
        n.reason = Reason::basics;
        n.why = "only the service's user and groups";
        nodes[name] = n;
        ensure_parents(name);
    }
    for (const auto& log : t.logs) {
        JailNode n;
        n.kind = JailNode::fifo;
        n.path = log;
        n.mode = 0200;  // the service may only write: reading would take lines before init logs them
        n.uid = accounts.uid;
        n.gid = accounts.gid;
        n.reason = Reason::basics;
        n.why = "log FIFO, drained by init";
        nodes[log] = n;
        ensure_parents(log);
        // The service must reach its FIFO: its directory is root's, searchable by its group.
        JailNode& dir = nodes[parent_of(log)];
        dir.uid = 0;
        dir.gid = accounts.gid;
        dir.mode = 0750;
    }
    for (const auto& w : t.writable) {
        if (!nodes.count(w.path)) {
            JailNode d;
            d.kind = JailNode::dir;
            d.path = w.path;
            d.reason = Reason::basics;
            d.why = "writable tmpfs mount point";
            nodes[w.path] = d;
            ensure_parents(w.path);
        }
        plan.mounts.push_back({"tmpfs", w.path,
                               fmt::format("size={},mode=0755,uid={},gid={}", w.size, accounts.uid, accounts.gid)});
    }
    // [data] paths: mount points of the data disk's dirs, holding the seed (what this host has
    // there). The top of each is the service's, whoever owns it on this host: it is where the
    // service keeps its state (what is inside keeps its owners).
    for (const auto& p : t.data.paths) {
        if (!nodes.count(p)) {
            JailNode d;
            d.kind = JailNode::dir;
            d.path = p;
            d.mode = 0755;
            d.reason = Reason::basics;
            d.why = "data disk mount point";
            nodes[p] = d;
            ensure_parents(p);
        }
        JailNode& d = nodes[p];
        d.uid = accounts.uid;
        d.gid = accounts.gid;
        d.mode |= 0700;
    }
    if (t.proc) {
        if (!nodes.count("/proc")) {
            JailNode d;
            d.kind = JailNode::dir;
            d.path = "/proc";
            d.mode = 0555;
            d.reason = Reason::basics;
            d.why = "proc mount point";
            nodes["/proc"] = d;
        }
        plan.mounts.push_back({"proc", "/proc", "ro"});
    }
    // std::map order puts "/a" before "/a/b" but also "/a-b" before "/a/b": parents still
    // precede children because every parent is its own, shorter key with the same prefix.
    for (auto& [p, n] : nodes) plan.nodes.push_back(std::move(n));
    return plan;
}

std::vector<std::string> start_execs(const trace::TraceResult& traced, const JailPlan& plan,
                                     std::vector<closure::Finding>* left_out) {
    std::vector<std::string> out;
    for (size_t i = 1; i < traced.execs.size(); ++i) {  // [0] is the service's own exec
        const auto& e = traced.execs[i];
        if (!e.ok || std::find(out.begin(), out.end(), e.path) != out.end()) continue;
        bool held = false;
        for (const auto& n : plan.nodes)
            held |= n.path == e.path && (n.kind == JailNode::file || n.kind == JailNode::hardlink);
        if (!held) continue;
        if (e.path.find_first_of(" \t\n") != std::string::npos) {
            if (left_out) left_out->push_back({"warning", e.path, "not allowed before ready by the start lock: blanks in its path"});
            continue;
        }
        out.push_back(e.path);
    }
    return out;
}

namespace {

void copy_file(const std::string& from, const std::string& to, unsigned mode) {
    Fd in = sys::open(from, O_RDONLY);
    Fd out = sys::open(to, O_WRONLY | O_CREAT | O_EXCL, 0600);
    struct stat st;
    if (fstat(in.get(), &st) < 0) throw SysError("fstat", from, errno);
    off_t left = st.st_size;
    while (left > 0) {
        ssize_t n = copy_file_range(in.get(), nullptr, out.get(), nullptr, left, 0);
        if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS))
            n = sendfile(out.get(), in.get(), nullptr, left);
        if (n < 0) throw SysError("copy_file_range", {from, to}, errno);
        if (n == 0) break;  // the file shrank while we copied
        left -= n;
    }
    if (fchmod(out.get(), mode) < 0) throw SysError("fchmod", to, errno);
}

const char* const kMarker = ".romimg-jail";

}  // namespace

uint64_t apply_jail(const JailPlan& plan, const std::filesystem::path& dir) {
    namespace sfs = std::filesystem;
    sfs::path target = sfs::absolute(dir).lexically_normal();
    if (target.filename().empty()) target = target.parent_path();
    if (sfs::exists(target) && !sfs::is_empty(target) && !sfs::exists(target / kMarker))
        throw Error(fmt::format("{} exists and is not a jail romimg made: refusing to replace it "
                                "(choose another --out or remove it)", target.string()));
    sfs::create_directories(target.parent_path());
    fs::TempDir staging(target.parent_path(), "." + target.filename().string() + ".new-");
    const std::string root = staging.path().string();
    uint64_t bytes = 0;

    for (const JailNode& n : plan.nodes) {
        std::string p = root + (n.path == "/" ? "" : n.path);
        switch (n.kind) {
        case JailNode::dir:
            if (n.path != "/" && mkdir(p.c_str(), 0700) < 0 && errno != EEXIST) throw SysError("mkdir", p, errno);
            break;
        case JailNode::file:
            copy_file(n.source, p, n.mode);
            bytes += n.size;
            break;
        case JailNode::generated:
            fs::write_file_atomic(p, n.content, n.mode);
            bytes += n.content.size();
            break;
        case JailNode::symlink:
            if (symlink(n.target.c_str(), p.c_str()) < 0) throw SysError("symlink", {n.target, p}, errno);
            break;
        case JailNode::hardlink: {
            std::string src = root + n.source;
            if (link(src.c_str(), p.c_str()) < 0) throw SysError("link", {src, p}, errno);
            break;
        }
        case JailNode::fifo:
            if (mkfifo(p.c_str(), n.mode) < 0) throw SysError("mkfifo", p, errno);
            break;
        case JailNode::device:
            continue;  // pseudo-definitions only (see jail.h)
        }
        if (lchown(p.c_str(), n.uid, n.gid) < 0) throw SysError("lchown", p, errno);
    }
    // Directory modes last: a read-only directory must not stop us filling it.
    for (auto it = plan.nodes.rbegin(); it != plan.nodes.rend(); ++it)
        if (it->kind == JailNode::dir) {
            std::string p = root + (it->path == "/" ? "" : it->path);
            if (chmod(p.c_str(), it->mode) < 0) throw SysError("chmod", p, errno);
        }
    fs::write_file_atomic(staging.path() / kMarker, plan.service + "\n", 0644);

    if (sfs::exists(target)) {
        // One atomic swap, no third name: the staging name then holds the previous jail (ours,
        // by its marker, or an empty directory), which the TempDir removes. Nothing beside the
        // jail (a DIR.old of someone else's) is ever touched.
        sys::rename_exchange(staging.path(), target);
    } else {
        sfs::rename(staging.path(), target);
        staging.keep();  // renamed away: nothing left to remove
    }
    return bytes;
}

}  // namespace romimg::jail
