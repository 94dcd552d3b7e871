// Debian's package database, in-process (see dpkg.h). The formats: `status` is RFC-822-style
// paragraphs; `info/<pkg>[:<arch>].list` is one path per line; `diversions` is triples of lines
// (original path, diverted-to path, diverting package or ":" for a local diversion).
#include "dpkg/dpkg.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <deque>
#include <set>

#include "common/error.h"
#include "common/sys.h"

namespace romimg::dpkg {

namespace {

std::string trim(std::string_view s) {
    size_t b = 0, e = s.size();
    while (b < e && (s[b] == ' ' || s[b] == '\t')) ++b;
    while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) --e;
    return std::string(s.substr(b, e - b));
}

// "libc6 (>= 2.34), awk | mawk:any, python3:any (>= 3.9)" → {libc6, awk, mawk, python3}.
void parse_relations(const std::string& field, std::vector<std::string>& out) {
    size_t i = 0;
    while (i <= field.size()) {
        size_t j = field.find_first_of(",|", i);
        if (j == std::string::npos) j = field.size();
        std::string item = trim(std::string_view(field).substr(i, j - i));
        size_t cut = item.find_first_of(" (:[<");
        if (cut != std::string::npos) item.resize(cut);
        if (!item.empty() && std::find(out.begin(), out.end(), item) == out.end()) out.push_back(item);
        i = j + 1;
    }
}

// Reads a whole file; "" with ok = false if it does not exist.
std::string read_if_exists(const std::filesystem::path& p, bool& ok) {
    ok = false;
    Fd fd(::open(p.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
        if (errno == ENOENT) return "";
        throw SysError("open", p.string(), errno);
    }
    ok = true;
    return sys::read_all(fd.get());
}

// The other name of a path on a merged-/usr system ("" if none): Debian 12 packages still list
// some files under /lib, /bin, /sbin while they live under /usr, and the reverse.
std::string usr_alias(const std::string& path) {
    static const char* const dirs[] = {"/bin/", "/sbin/", "/lib/", "/lib32/", "/lib64/", "/libx32/"};
    for (const char* d : dirs) {
        std::string_view dv(d);
        if (path.compare(0, dv.size(), dv) == 0) return "/usr" + path;
        if (path.compare(0, 4, "/usr") == 0 && path.compare(4, dv.size(), dv) == 0) return path.substr(4);
    }
    return "";
}

}  // namespace

Database Database::load(const std::filesystem::path& admindir) {
    Database db;
    bool ok = false;
    std::string status = read_if_exists(admindir / "status", ok);
    if (!ok) throw SysError("open", (admindir / "status").string(), ENOENT);

    // Paragraphs; only single-line fields matter here (continuations start with a blank).
    Package cur;
    std::string state;
    auto flush = [&] {
        // Every state but these has files on disk (half-configured, unpacked, triggers-*...).
        if (!cur.name.empty() && !state.empty() && state != "not-installed" && state != "config-files")
            db.packages_.push_back(std::move(cur));
        cur = Package{};
        state.clear();
    };
    size_t i = 0;
    while (i < status.size()) {
        size_t j = status.find('\n', i);
        if (j == std::string::npos) j = status.size();
        std::string_view line(status.data() + i, j - i);
        i = j + 1;
        if (line.empty() || line == "\r") {
            flush();
            continue;
        }
        if (line[0] == ' ' || line[0] == '\t') continue;
        size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        std::string_view key = line.substr(0, colon);
        std::string value = trim(line.substr(colon + 1));
        if (key == "Package") cur.name = value;
        else if (key == "Version") cur.version = value;
        else if (key == "Architecture") cur.arch = value;
        else if (key == "Installed-Size") cur.installed_size_kb = std::strtoull(value.c_str(), nullptr, 10);
        else if (key == "Depends" || key == "Pre-Depends") parse_relations(value, cur.depends);
        else if (key == "Provides") parse_relations(value, cur.provides);
        else if (key == "Status") state = value.substr(value.rfind(' ') == std::string::npos ? 0 : value.rfind(' ') + 1);
    }
    flush();

    // A name answers with the native package when several architectures are installed; dpkg
    // itself is always native.
    std::string native;
    for (const auto& p : db.packages_)
        if (p.name == "dpkg") native = p.arch;
    for (size_t k = 0; k < db.packages_.size(); ++k) {
        const Package& p = db.packages_[k];
        db.by_name_[p.name + ":" + p.arch] = k;
        auto [it, inserted] = db.by_name_.emplace(p.name, k);
        if (!inserted && p.arch == native && db.packages_[it->second].arch != native) it->second = k;
        for (const auto& v : p.provides) db.providers_[v].push_back(k);
    }

    std::string div = read_if_exists(admindir / "diversions", ok);
    {
        std::vector<std::string> lines;
        size_t a = 0;
        while (a < div.size()) {
            size_t b = div.find('\n', a);
            if (b == std::string::npos) b = div.size();
            lines.push_back(div.substr(a, b - a));
            a = b + 1;
        }
        for (size_t k = 0; k + 2 < lines.size(); k += 3) {
            Diversion d{lines[k], lines[k + 1], lines[k + 2]};
            db.diverted_from_[d.from] = d;
            db.diverted_to_[d.to] = d;
        }
    }

    db.owner_.reserve(1u << 17);
    for (size_t k = 0; k < db.packages_.size(); ++k) {
        const Package& p = db.packages_[k];
        // Multi-Arch: same packages name their list "<pkg>:<arch>.list".
        std::string list = read_if_exists(admindir / "info" / (p.name + ":" + p.arch + ".list"), ok);
        if (!ok) list = read_if_exists(admindir / "info" / (p.name + ".list"), ok);
        if (!ok) continue;
        db.list_of_[k] = db.lists_.size();
        db.lists_.push_back(std::make_unique<std::string>(std::move(list)));
        const std::string& s = *db.lists_.back();
        size_t a = 0;
        while (a < s.size()) {
            size_t b = s.find('\n', a);
            if (b == std::string::npos) b = s.size();
            std::string_view path(s.data() + a, b - a);
            a = b + 1;
            if (path.empty() || path == "/.") continue;
            db.owner_.emplace(path, uint32_t(k));  // first lister keeps a shared directory
            if (!db.diverted_from_.empty()) {
                auto d = db.diverted_from_.find(std::string(path));
                if (d != db.diverted_from_.end()) db.diverted_listers_[d->first].push_back(uint32_t(k));
            }
        }
    }
    return db;
}

std::vector<std::string> Database::files_of(const std::string& name) const {
    std::vector<std::string> out;
    const Package* p = package(name);
    if (!p) return out;
    auto l = list_of_.find(size_t(p - packages_.data()));
    if (l == list_of_.end()) return out;
    const std::string& s = *lists_[l->second];
    size_t a = 0;
    while (a < s.size()) {
        size_t b = s.find('\n', a);
        if (b == std::string::npos) b = s.size();
        if (b > a && s.compare(a, b - a, "/.") != 0) out.push_back(s.substr(a, b - a));
        a = b + 1;
    }
    return out;
}

const Package* Database::listed_owner(const std::string& path) const {
    // Diversions first: the file a package ships as `from` lives at `to` unless that package is
    // the one that diverted it.
    if (auto t = diverted_to_.find(path); t != diverted_to_.end()) {
        auto l = diverted_listers_.find(t->second.from);
        if (l != diverted_listers_.end())
            for (uint32_t k : l->second)
                if (packages_[k].name != t->second.by) return &packages_[k];
    }
    if (auto f = diverted_from_.find(path); f != diverted_from_.end()) {
        // A local diversion (":") leaves whatever the admin put there: no package's file.
        return f->second.by == ":" ? nullptr : package(f->second.by);
    }
    auto it = owner_.find(std::string_view(path));
    return it == owner_.end() ? nullptr : &packages_[it->second];
}

const Package* Database::owner_of(const std::string& path) const {
    if (const Package* p = listed_owner(path)) return p;
    std::string alias = usr_alias(path);
    return alias.empty() ? nullptr : listed_owner(alias);
}

const Package* Database::package(const std::string& name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : &packages_[it->second];
}

std::vector<std::string> Database::dependency_closure(const std::vector<std::string>& names) const {
    std::set<std::string> seen;
    std::deque<const Package*> todo;
    auto visit = [&](const std::string& name) {
        std::string n = name.substr(0, name.find(':'));  // "python3:any" is python3
        std::vector<const Package*> found;
        if (const Package* p = package(name)) found.push_back(p);
        else if (const Package* q = package(n)) found.push_back(q);
        else if (auto pr = providers_.find(n); pr != providers_.end())
            for (size_t k : pr->second) found.push_back(&packages_[k]);
        for (const Package* p : found)
            if (seen.insert(p->name).second) todo.push_back(p);
    };
    for (const auto& n : names) visit(n);
    while (!todo.empty()) {
        const Package* p = todo.front();
        todo.pop_front();
        for (const auto& d : p->depends) visit(d);
    }
    return {seen.begin(), seen.end()};
}

uint64_t Database::installed_bytes(const std::vector<std::string>& names) const {
    std::set<const Package*> counted;
    uint64_t total = 0;
    for (const auto& n : names)
        if (const Package* p = package(n); p && counted.insert(p).second) total += p->installed_size_kb * 1024;
    return total;
}

}  // namespace romimg::dpkg
