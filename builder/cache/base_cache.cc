#include "cache/base_cache.h"

#include <cerrno>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <sstream>

#include <fmt/format.h>

#include "closure/closure.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/signals.h"
#include "common/strings.h"
#include "cache/inventory.h"

namespace romimg::cache {

namespace sfs = std::filesystem;

std::string input_key(const std::map<std::string, std::string>& inputs) {
    std::string text = "romimg base layer v1\n";
    for (const auto& [name, digest] : inputs) text += name + "\t" + digest + "\n";
    return fs::sha256_hex(text);
}

std::string tree_digest(const sfs::path& dir) {
    if (!sfs::exists(dir)) return "";
    std::vector<std::string> lines;
    for (const auto& e : sfs::recursive_directory_iterator(dir)) {
        struct stat st;
        if (lstat(e.path().c_str(), &st) != 0) throw SysError("lstat", e.path().string(), errno);
        std::string rel = sfs::relative(e.path(), dir).string();
        std::string what = S_ISREG(st.st_mode) ? "f " + fs::sha256_file(e.path())
                           : S_ISLNK(st.st_mode) ? "l " + sfs::read_symlink(e.path()).string()
                                                 : "d";
        lines.push_back(fmt::format("{}\t{:o}\t{}", rel, st.st_mode & 07777, what));
    }
    std::sort(lines.begin(), lines.end());
    std::string all;
    for (const auto& l : lines) all += l + "\n";
    return fs::sha256_hex(all);
}

std::vector<std::string> host_sources(const jail::JailPlan& plan) {
    std::vector<std::string> out;
    // A jlink'd runtime's files are made in the work dir: what they were made from is stamped.
    const std::string image = plan.java ? plan.java->image + "/" : std::string();
    if (plan.java) out.insert(out.end(), plan.java->inputs.begin(), plan.java->inputs.end());
    for (const auto& n : plan.nodes) {
        if (!image.empty() && n.kind == jail::JailNode::file && n.source.rfind(image, 0) == 0) continue;
        // A generated node with a source is a host file romimg edited (jail.properties).
        if (n.kind == jail::JailNode::file || (n.kind == jail::JailNode::generated && !n.source.empty()))
            out.push_back(n.source);
        else if (n.kind == jail::JailNode::symlink || n.kind == jail::JailNode::dir) out.push_back(n.path);
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

std::vector<FileStamp> stamp_files(const std::vector<std::string>& paths) {
    std::vector<FileStamp> out;
    out.reserve(paths.size());
    for (const auto& p : paths) {
        FileStamp s;
        s.path = p;
        struct stat st;
        if (lstat(p.c_str(), &st) != 0) {
            s.type = '-';
            out.push_back(s);
            continue;
        }
        s.type = S_ISDIR(st.st_mode) ? 'd' : S_ISLNK(st.st_mode) ? 'l' : 'f';
        s.mode = st.st_mode & 07777;
        s.uid = st.st_uid;
        s.gid = st.st_gid;
        if (s.type == 'f') {
            s.size = st.st_size;
            s.mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        }
        if (s.type == 'l') {
            std::error_code ec;
            s.link = sfs::read_symlink(p, ec).string();
        }
        out.push_back(s);
    }
    return out;
}

std::vector<FileStamp> stamp_globs(const std::vector<std::string>& globs) {
    std::vector<FileStamp> out;
    for (const auto& g : globs) {
        const std::vector<std::string> covered = closure::include_covers(g);
        FileStamp s;
        s.path = g;
        s.type = 'g';
        s.size = covered.size();
        s.link = fs::sha256_hex(fmt::format("{}\n", fmt::join(covered, "\n")));
        out.push_back(s);
    }
    return out;
}

std::vector<FileStamp> restamp(const std::vector<FileStamp>& recorded) {
    std::vector<FileStamp> out;
    out.reserve(recorded.size());
    for (const auto& s : recorded) out.push_back(s.type == 'g' ? stamp_globs({s.path})[0] : stamp_files({s.path})[0]);
    return out;
}

// Paths and link texts may hold any byte but NUL; tabs and newlines are escaped.
static std::string esc(const std::string& s) {
    std::string o;
    for (char c : s) o += c == '\\' ? "\\\\" : c == '\t' ? "\\t" : c == '\n' ? "\\n" : std::string(1, c);
    return o;
}
static std::string unesc(const std::string& s) {
    std::string o;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '\\' || i + 1 == s.size()) {
            o += s[i];
            continue;
        }
        char n = s[++i];
        o += n == 't' ? '\t' : n == 'n' ? '\n' : n;
    }
    return o;
}

std::string format_stamps(const std::vector<FileStamp>& stamps) {
    std::string o;
    for (const auto& s : stamps)
        o += fmt::format("{}\t{}\t{}\t{}\t{:o}\t{}\t{}\t{}\n", s.type, esc(s.path), s.size, s.mtime_ns, s.mode, s.uid, s.gid,
                         esc(s.link));
    return o;
}

bool parse_stamps(const std::string& text, std::vector<FileStamp>& out) {
    std::vector<FileStamp> v;
    for (const auto& line : split(text, '\n', true)) {
        auto f = split(line, '\t');
        if (f.size() != 8 || f[0].size() != 1) return false;
        FileStamp s;
        try {
            s.type = f[0][0];
            s.path = unesc(f[1]);
            s.size = std::stoull(f[2]);
            s.mtime_ns = std::stoll(f[3]);
            s.mode = (unsigned)std::stoul(f[4], nullptr, 8);
            s.uid = (unsigned)std::stoul(f[5]);
            s.gid = (unsigned)std::stoul(f[6]);
        } catch (const std::exception&) {
            return false;
        }
        s.link = unesc(f[7]);
        v.push_back(s);
    }
    out = std::move(v);
    return true;
}

std::vector<std::string> changed(const std::vector<FileStamp>& recorded, const std::vector<FileStamp>& now) {
    std::vector<std::string> out;
    for (size_t i = 0; i < recorded.size(); ++i)
        if (i >= now.size() || !(recorded[i] == now[i])) out.push_back(recorded[i].path);
    return out;
}

namespace {

BaseEntry entry_at(const sfs::path& dir) {
    BaseEntry e;
    e.dir = dir;
    e.root_sqfs = dir / "root.sqfs";
    e.root_sha256 = fs::read_file(dir / "root.sqfs.sha256");
    parse_stamps(fs::read_file(dir / "stamps"), e.stamps);
    e.appliance_conf = fs::read_file(dir / "appliance.conf");
    if (sfs::exists(dir / "manifests"))
        for (const auto& f : sfs::directory_iterator(dir / "manifests")) {
            std::string name = f.path().filename().string();
            const std::string suffix = ".manifest.json";
            if (name.size() > suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0)
                e.manifests[name.substr(0, name.size() - suffix.size())] = f.path();
        }
    return e;
}

}  // namespace

std::optional<BaseEntry> lookup(const sfs::path& cache_dir, const std::string& key, std::string& why,
                                const Restamp& restamp_fn) {
    why.clear();
    const sfs::path dir = cache_dir / "base" / key;
    if (!sfs::exists(dir / "root.sqfs") || !sfs::exists(dir / "stamps") || !sfs::exists(dir / "appliance.conf"))
        return std::nullopt;
    std::vector<FileStamp> recorded;
    if (!parse_stamps(fs::read_file(dir / "stamps"), recorded)) {
        why = "its stamp file is damaged";
        return std::nullopt;
    }
    std::vector<std::string> diff = changed(recorded, restamp_fn(recorded));
    if (!diff.empty()) {
        why = fmt::format("{} host file(s) or include glob(s) changed since, e.g. {}", diff.size(), diff.front());
        return std::nullopt;
    }
    mark_used(dir);
    return entry_at(dir);
}

BaseEntry publish(const sfs::path& cache_dir, const std::string& key, const sfs::path& root_sqfs,
                  const std::map<std::string, sfs::path>& manifests, const std::vector<FileStamp>& stamps,
                  const std::string& appliance_conf, bool replace) {
    const sfs::path base = cache_dir / "base";
    sfs::create_directories(base);
    fs::TempDir tmp(base, ".new-" + key.substr(0, 16) + "-");
    sfs::create_directories(tmp.path() / "manifests");
    // A hard link when the cache shares the work dir's filesystem, else a copy.
    std::error_code ec;
    sfs::create_hard_link(root_sqfs, tmp.path() / "root.sqfs", ec);
    if (ec) sfs::copy_file(root_sqfs, tmp.path() / "root.sqfs");
    fs::write_file_atomic(tmp.path() / "root.sqfs.sha256", fs::sha256_file(root_sqfs));
    for (const auto& [name, json] : manifests) {
        sfs::copy_file(json, tmp.path() / "manifests" / (name + ".manifest.json"));
        sfs::path txt = json;
        txt.replace_extension(".txt");
        if (sfs::exists(txt)) sfs::copy_file(txt, tmp.path() / "manifests" / (name + ".manifest.txt"));
    }
    fs::write_file_atomic(tmp.path() / "appliance.conf", appliance_conf);
    fs::write_file_atomic(tmp.path() / "stamps", format_stamps(stamps));
    // The binary that made it: its key holds this hash, so no other romimg can hit it (`romimg cache`).
    fs::write_file_atomic(tmp.path() / "made-by", fs::sha256_file("/proc/self/exe") + "\n");
    const sfs::path dir = base / key;
    std::string why;
    if (!replace && lookup(cache_dir, key, why)) return entry_at(dir);  // a parallel build of the same inputs won: as good
    signals::throw_if_interrupted();  // an interrupted build publishes nothing
    // A stale entry (a host file changed) is moved aside first: a directory cannot be renamed
    // over a non-empty one, and the new entry must appear in one step.
    fs::TempDir trash(base, ".old-" + key.substr(0, 16) + "-");
    if (sfs::exists(dir) && rename(dir.c_str(), (trash.path() / "entry").c_str()) != 0)
        throw SysError("rename", {dir.string(), (trash.path() / "entry").string()}, errno);
    if (rename(tmp.path().c_str(), dir.c_str()) != 0) throw SysError("rename", {tmp.path().string(), dir.string()}, errno);
    tmp.keep();
    return entry_at(dir);
}

}  // namespace romimg::cache
