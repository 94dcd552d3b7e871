#include "jail/jail.h"

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

namespace romimg::jail {

using closure::Reason;
using trace::FileType;

const std::vector<std::string>& standard_devices() {
    static const std::vector<std::string> v = {"/dev/null", "/dev/zero", "/dev/random", "/dev/urandom"};
    return v;
}

namespace {

struct DevNumbers {
    unsigned major, minor;
};
// The character devices a jail may have; numbers are fixed by Linux (devices.txt).
bool known_device(const std::string& path, DevNumbers& out) {
    static const std::map<std::string, DevNumbers> devs = {
        {"/dev/null", {1, 3}}, {"/dev/zero", {1, 5}},    {"/dev/full", {1, 7}},
        {"/dev/random", {1, 8}}, {"/dev/urandom", {1, 9}}, {"/dev/tty", {5, 0}}};
    auto it = devs.find(path);
    if (it == devs.end()) return false;
    out = it->second;
    return true;
}

std::string parent_of(const std::string& p) { return std::filesystem::path(p).parent_path().string(); }

}  // namespace

JailPlan plan_jail(const closure::FileSet& files, const recipe::ServiceTemplate& t,
                   const JailAccounts& accounts) {
    JailPlan plan;
    plan.service = t.name;
    plan.findings = files.findings;
    plan.accounts = accounts;
    plan.capabilities = t.capabilities;
    std::map<std::string, JailNode> nodes;

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
        case FileType::device: {
            DevNumbers d;
            if (!known_device(path, d)) {
                plan.findings.push_back({"dropped", path, "device not on the allow-list"});
                continue;
            }
            n.kind = JailNode::device;
            n.major = d.major;
            n.minor = d.minor;
            break;
        }
        default:
            continue;  // fifos, sockets: made at run time by the service
        }
        nodes[path] = n;
        if (path != "/") ensure_parents(path);
    }

    for (const auto& dev : standard_devices()) {
        if (nodes.count(dev)) continue;
        DevNumbers d;
        known_device(dev, d);
        JailNode n;
        n.kind = JailNode::device;
        n.path = dev;
        n.mode = 0666;
        n.major = d.major;
        n.minor = d.minor;
        n.reason = Reason::basics;
        n.why = "standard device";
        nodes[dev] = n;
        ensure_parents(dev);
    }
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
        n.mode = 0600;  // only the service writes; init reads it from outside as root
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
