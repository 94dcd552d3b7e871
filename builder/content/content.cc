#include "content/content.h"

#include <algorithm>

#include <fmt/format.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/strings.h"

namespace romimg::content {

void reject(const ContentSpec& c, const std::string& what, const std::string& fix) {
    throw UsageError(fmt::format("--content {}: {} ({})", c.arg, what, fix));
}

ContentSpec parse_content_arg(const std::string& arg) {
    ContentSpec c;
    c.arg = arg;
    const size_t colon = arg.find(':'), eq = arg.find('=');
    if (colon == std::string::npos || eq == std::string::npos || eq < colon)
        reject(c, "not SERVICE:PATH=SOURCE", "e.g. --content apache:/var/www/html=./release-42/");
    c.service = arg.substr(0, colon);
    c.path = arg.substr(colon + 1, eq - colon - 1);
    c.source = arg.substr(eq + 1);
    if (c.service.empty()) reject(c, "no SERVICE before ':'", "name the service whose jail gets the content");
    if (c.source.empty()) reject(c, "no SOURCE after '='", "give a directory or a tar, tar.gz, tar.xz, zip or .war file");
    if (c.path.empty() || c.path[0] != '/')
        reject(c, "PATH '" + c.path + "' is not absolute", "PATH is where the content goes inside the jail, e.g. /var/www/html");
    for (char ch : c.path)
        if ((unsigned char)ch < 0x21 || ch == 0x7f)
            reject(c, "PATH contains a space or control character", "choose a mount point without them");
    const std::string normal = std::filesystem::path(c.path).lexically_normal().string();
    std::string trimmed = normal;
    while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
    if (trimmed == "/") reject(c, "PATH is the jail's root", "content replaces one directory in the jail, e.g. /var/www/html");
    if (trimmed != c.path) reject(c, "PATH '" + c.path + "' is not normalized", "write " + trimmed);
    return c;
}

void check_specs(const std::vector<ContentSpec>& specs, const std::vector<std::string>& services) {
    for (size_t i = 0; i < specs.size(); ++i) {
        const ContentSpec& c = specs[i];
        if (std::find(services.begin(), services.end(), c.service) == services.end())
            reject(c, "'" + c.service + "' is not one of the services being built (" + fmt::format("{}", fmt::join(services, ", ")) + ")",
                   "add it to the command line or fix the name");
        for (size_t j = 0; j < i; ++j) {
            const ContentSpec& o = specs[j];
            if (o.service != c.service) continue;
            if (o.path == c.path) reject(c, "--content " + o.arg + " already replaces " + c.path, "give each PATH once");
            if (fs::path_within(c.path, o.path) || fs::path_within(o.path, c.path))
                reject(c, "nested in --content " + o.arg, "layers may not nest: put the inner content into the outer SOURCE");
        }
    }
}

void check_against_template(const ContentSpec& c, const recipe::ServiceTemplate& t) {
    auto covers = [&](const std::string& p) { return fs::path_within(p, c.path); };
    if (!t.command.empty() && covers(t.command[0]))
        reject(c, "PATH would hide the service's program " + t.command[0], "content is data: choose a directory below it");
    for (const char* p : {"/dev", "/proc", "/etc/passwd", "/etc/group"})
        if (covers(p)) reject(c, std::string("PATH would hide the jail's ") + p, "choose a directory that holds only content");
    for (const auto& w : t.writable) {
        if (covers(w.path))
            reject(c, "PATH would hide the writable area " + w.path, "content is read-only: keep it apart from writable dirs");
        if (fs::path_within(c.path, w.path))
            reject(c, "PATH is inside the writable tmpfs area " + w.path, "content is read-only: choose a directory outside " + w.path);
    }
    for (const auto& l : t.logs)
        if (covers(l) || fs::path_within(c.path, l))
            reject(c, "PATH would hide the log FIFO " + l, "choose a directory without log files");
}

void check_against_plan(const ContentSpec& c, const jail::JailPlan& plan) {
    for (const auto& n : plan.nodes) {
        if (n.kind == jail::JailNode::hardlink && fs::path_within(n.source, c.path) && !fs::path_within(n.path, c.path))
            reject(c, n.path + " is a hard link to " + n.source + ", which the content replaces", "choose a PATH that does not split hard links");
        if (n.path == c.path || !fs::path_within(n.path, c.path)) continue;
        if (n.kind == jail::JailNode::device)
            reject(c, "PATH would hide the device node " + n.path, "choose a directory that holds only content");
        if (n.kind != jail::JailNode::dir && n.reason == closure::Reason::closure)
            reject(c, "PATH would hide " + n.path + ", which the service needs (" + (n.why.empty() ? "a dependency" : n.why) + ")",
                   "content is data: choose a directory that holds no programs or libraries");
    }
}

jail::JailPlan replace_subtrees(jail::JailPlan plan, const std::vector<std::string>& paths) {
    std::vector<jail::JailNode> kept;
    for (auto& n : plan.nodes) {
        bool under = false, at = false;
        for (const auto& p : paths) {
            under |= n.path != p && fs::path_within(n.path, p);
            at |= n.path == p;
        }
        if (under) continue;
        if (at) {  // whatever the host had there, the jail gets an empty mount point
            jail::JailNode d;
            d.kind = jail::JailNode::dir;
            d.path = n.path;
            d.mode = 0755;
            d.reason = n.reason;
            d.why = "content mount point";
            kept.push_back(d);
            continue;
        }
        kept.push_back(std::move(n));
    }
    for (const auto& p : paths) {
        // The mount point and its missing parents.
        std::string cur;
        for (const auto& part : split(p, '/', true)) {
            cur += "/" + part;
            auto it = std::find_if(kept.begin(), kept.end(), [&](const jail::JailNode& n) { return n.path == cur; });
            if (it != kept.end()) {
                if (it->kind != jail::JailNode::dir)
                    throw UsageError(fmt::format("--content for {}: {} is a {} in the jail, not a directory (choose a PATH below real directories)",
                                                 p, cur, it->kind == jail::JailNode::symlink ? "symlink" : "file"));
                continue;
            }
            jail::JailNode d;
            d.kind = jail::JailNode::dir;
            d.path = cur;
            d.mode = 0755;
            d.why = cur == p ? "content mount point" : "parent of a content mount point";
            kept.push_back(d);
        }
    }
    // The order plan_jail uses (a parent's path is a prefix, so it sorts first).
    std::sort(kept.begin(), kept.end(), [](const jail::JailNode& a, const jail::JailNode& b) { return a.path < b.path; });
    plan.nodes = std::move(kept);
    return plan;
}

std::vector<std::string> paths_of(const std::vector<ContentSpec>& specs, const std::string& service) {
    std::vector<std::string> out;
    for (const auto& c : specs)
        if (c.service == service) out.push_back(c.path);
    return out;
}

std::string layer_iso_path(const std::string& service, int n) { return fmt::format("live/content/{}-{}.sqfs", service, n); }

std::string layer_mount_point(const ContentSpec& c) { return "/jail/" + c.service + c.path; }

}  // namespace romimg::content
