#include "image/diff.h"

#include <algorithm>
#include <map>
#include <set>
#include <type_traits>

#include <fmt/format.h>

#include "common/names.h"
#include "common/strings.h"

namespace romimg::image {

using nlohmann::json;

bool ImageDiff::empty() const {
    for (const auto& j : jails)
        if (!j.empty()) return false;
    return image.empty() && kernel.empty() && services_added.empty() && services_removed.empty() &&
           policy_added.empty() && policy_removed.empty() && conf_added.empty() && conf_removed.empty() &&
           layers.empty();
}

namespace {

// Matches two lists by key, in key order: gone(old) or both(old, new) for every old item, then
// added(new) for every new item whose key the old list lacks.
template <typename Range, typename KeyOf, typename Gone, typename Both, typename Added>
void match_by_key(const Range& old_items, const Range& new_items, KeyOf key_of, Gone gone, Both both, Added added) {
    using Item = std::remove_reference_t<decltype(*std::begin(old_items))>;
    std::map<std::string, const Item*> old_by_key, new_by_key;
    for (const auto& x : old_items) old_by_key[key_of(x)] = &x;
    for (const auto& x : new_items) new_by_key[key_of(x)] = &x;
    for (const auto& [key, x] : old_by_key) {
        auto it = new_by_key.find(key);
        if (it == new_by_key.end()) gone(*x);
        else both(*x, *it->second);
    }
    for (const auto& [key, x] : new_by_key)
        if (!old_by_key.count(key)) added(*x);
}

void compare(std::vector<ValueChange>& out, const std::string& what, const std::string& a, const std::string& b) {
    if (a != b) out.push_back({what, a, b});
}

FileChange compare_entries(const JailEntry& a, const JailEntry& b) {
    FileChange c{a.path, {}};
    compare(c.changes, "type", a.type, b.type);
    compare(c.changes, "size", std::to_string(a.size), std::to_string(b.size));
    compare(c.changes, "sha256", a.sha256, b.sha256);
    compare(c.changes, "mode", a.mode, b.mode);
    compare(c.changes, "owner", fmt::format("{}:{}", a.uid, a.gid), fmt::format("{}:{}", b.uid, b.gid));
    compare(c.changes, "target", a.target, b.target);
    return c;
}

// The filters of one service: its mode and arch, each allowed syscall (with its why) and each killed one.
void diff_seccomp(std::vector<ValueChange>& out, const std::optional<seccomp::FilterPlan>& a,
                  const std::optional<seccomp::FilterPlan>& b) {
    auto mode = [](const std::optional<seccomp::FilterPlan>& f) { return f ? seccomp::to_string(f->mode) : "(not recorded)"; };
    compare(out, "mode", mode(a), mode(b));
    if (a && b) compare(out, "arch", a->arch, b->arch);
    std::map<std::string, std::pair<std::string, std::string>> allow, kill;
    if (a) {
        for (const auto& r : a->allow) allow[r.name].first = r.why;
        for (const auto& n : a->kill) kill[n].first = "killed";
    }
    if (b) {
        for (const auto& r : b->allow) allow[r.name].second = r.why;
        for (const auto& n : b->kill) kill[n].second = "killed";
    }
    for (const auto& [name, v] : allow)
        if (v.first != v.second) out.push_back({"allow " + name, v.first.empty() ? "(not allowed)" : v.first, v.second.empty() ? "(not allowed)" : v.second});
    for (const auto& [name, v] : kill)
        if (v.first != v.second) out.push_back({"kill " + name, v.first.empty() ? "(not killed)" : v.first, v.second.empty() ? "(not killed)" : v.second});
}

JailDiff diff_jails(const JailRecord& a, const JailRecord& b) {
    JailDiff d;
    d.service = a.service;
    match_by_key(
        a.entries, b.entries, [](const JailEntry& e) { return e.path; },
        [&](const JailEntry& e) { d.removed.push_back(e); },
        [&](const JailEntry& x, const JailEntry& y) {
            FileChange c = compare_entries(x, y);
            if (!c.changes.empty()) d.changed.push_back(std::move(c));
        },
        [&](const JailEntry& e) { d.added.push_back(e); });
    using Package = std::pair<const std::string, std::string>;
    match_by_key(
        a.packages, b.packages, [](const Package& p) { return p.first; },
        [&](const Package& p) { d.packages.push_back({p.first, p.second, ""}); },
        [&](const Package& x, const Package& y) {
            if (x.second != y.second) d.packages.push_back({x.first, x.second, y.second});
        },
        [&](const Package& p) { d.packages.push_back({p.first, "", p.second}); });
    std::sort(d.packages.begin(), d.packages.end(),
              [](const PackageChange& x, const PackageChange& y) { return x.package < y.package; });
    diff_seccomp(d.seccomp, a.seccomp, b.seccomp);
    auto runtime = [](const JailRecord& r) { return r.java ? "jlink " + r.java->home : std::string("distribution"); };
    compare(d.java, "runtime", runtime(a), runtime(b));
    if (a.java && b.java) {
        compare(d.java, "version", a.java->version, b.java->version);
        compare(d.java, "modules", fmt::format("{}", fmt::join(a.java->modules, " ")), fmt::format("{}", fmt::join(b.java->modules, " ")));
        compare(d.java, "cds", a.java->cds, b.java->cds);
    }
    return d;
}

void diff_layers(std::vector<ValueChange>& out, const ImageInfo& a, const ImageInfo& b) {
    match_by_key(
        a.layers, b.layers, [](const LayerInfo& l) { return l.iso_path; },
        [&](const LayerInfo& l) { out.push_back({l.iso_path, fmt::format("{} on {}", l.sha256, l.mount), "(removed)"}); },
        [&](const LayerInfo& x, const LayerInfo& y) {
            compare(out, x.iso_path + " sha256", x.sha256, y.sha256);
            compare(out, x.iso_path + " verity root hash", x.verity_root_hash, y.verity_root_hash);
            compare(out, x.iso_path + " bytes", std::to_string(x.bytes), std::to_string(y.bytes));
            compare(out, x.iso_path + " mount", x.mount, y.mount);
        },
        [&](const LayerInfo& l) { out.push_back({l.iso_path, "(added)", fmt::format("{} on {}", l.sha256, l.mount)}); });
}

// Lines of `a` not in `b` and lines of `b` not in `a`, each in its own list's order.
void diff_lines(const std::vector<std::string>& a, const std::vector<std::string>& b, std::vector<std::string>& removed,
                std::vector<std::string>& added) {
    std::multiset<std::string> in_a(a.begin(), a.end()), in_b(b.begin(), b.end());
    for (const auto& l : a)
        if (!in_b.count(l)) removed.push_back(l);
    for (const auto& l : b)
        if (!in_a.count(l)) added.push_back(l);
}

}  // namespace

ImageDiff diff_images(const ImageManifest& a, const ImageManifest& b) {
    ImageDiff d;
    compare(d.image, "label", a.info.label, b.info.label);
    compare(d.image, "arch", a.info.arch, b.info.arch);
    compare(d.image, "traced", a.info.traced, b.info.traced);
    compare(d.image, "cmdline", a.info.cmdline, b.info.cmdline);
    compare(d.image, "romlock mode", a.info.romlock_mode, b.info.romlock_mode);
    compare(d.image, "signer", a.info.signer, b.info.signer);
    compare(d.image, "SOURCE_DATE_EPOCH", std::to_string(a.info.source_date_epoch),
            std::to_string(b.info.source_date_epoch));
    compare(d.kernel, "version", a.kernel.version, b.kernel.version);
    compare(d.kernel, ".config sha256", a.kernel.config_sha256, b.kernel.config_sha256);
    compare(d.kernel, "cache key", a.kernel.cache_key, b.kernel.cache_key);
    compare(d.kernel, "source", a.kernel.source, b.kernel.source);
    compare(d.kernel, "compiler", a.kernel.compiler, b.kernel.compiler);

    match_by_key(
        a.jails, b.jails, [](const JailRecord& j) { return j.service; },
        [&](const JailRecord& j) { d.services_removed.push_back(j.service); },
        [&](const JailRecord& x, const JailRecord& y) {
            JailDiff jd = diff_jails(x, y);
            if (!jd.empty()) d.jails.push_back(std::move(jd));
        },
        [&](const JailRecord& j) { d.services_added.push_back(j.service); });

    diff_lines(a.policy, b.policy, d.policy_removed, d.policy_added);
    diff_lines(conf_lines(a.conf), conf_lines(b.conf), d.conf_removed, d.conf_added);
    diff_layers(d.layers, a.info, b.info);
    return d;
}

namespace {

json changes_json(const std::vector<ValueChange>& v) {
    json out = json::array();
    for (const auto& c : v) out.push_back({{"what", c.what}, {"old", c.old_value}, {"new", c.new_value}});
    return out;
}

json entry_json(const JailEntry& e) {
    return {{"path", e.path}, {"type", e.type}, {"size", e.size}, {"package", e.package}, {"version", e.version},
            {"why", e.why}};
}

// Every string comes from an ISO: escaped when shown, so none can forge a line or drive the terminal.
std::string P(const std::string& s) { return names::printable(s); }

std::string describe(const JailEntry& e) {
    std::string s = fmt::format("{} {}", P(e.type), P(e.path));
    if (e.type == "file" || e.type == "generated") s += " (" + human_bytes(e.size) + ")";
    if (!e.package.empty()) s += fmt::format(" [{} {}]", P(e.package), P(e.version));
    return s;
}

void section(std::string& out, const std::string& title, const std::vector<ValueChange>& v) {
    if (v.empty()) return;
    out += title + ":\n";
    for (const auto& c : v) out += fmt::format("  {}: {} -> {}\n", P(c.what), P(c.old_value), P(c.new_value));
}

}  // namespace

json diff_json(const ImageDiff& d) {
    json jails = json::array();
    for (const auto& j : d.jails) {
        json added = json::array(), removed = json::array(), changed = json::array(), packages = json::array();
        for (const auto& e : j.added) added.push_back(entry_json(e));
        for (const auto& e : j.removed) removed.push_back(entry_json(e));
        for (const auto& c : j.changed) changed.push_back({{"path", c.path}, {"changes", changes_json(c.changes)}});
        for (const auto& p : j.packages)
            packages.push_back({{"package", p.package}, {"old", p.old_version}, {"new", p.new_version}});
        jails.push_back({{"service", j.service},
                         {"added", added},
                         {"removed", removed},
                         {"changed", changed},
                         {"packages", packages},
                         {"seccomp", changes_json(j.seccomp)},
                         {"java", changes_json(j.java)}});
    }
    return {{"identical", d.empty()},
            {"image", changes_json(d.image)},
            {"kernel", changes_json(d.kernel)},
            {"services_added", d.services_added},
            {"services_removed", d.services_removed},
            {"jails", jails},
            {"policy_added", d.policy_added},
            {"policy_removed", d.policy_removed},
            {"appliance_conf_added", d.conf_added},
            {"appliance_conf_removed", d.conf_removed},
            {"layers", changes_json(d.layers)}};
}

std::string diff_table(const ImageDiff& d) {
    if (d.empty()) return "images are identical (same manifests, kernel, policy, init configuration and layers)\n";
    std::string out;
    section(out, "image", d.image);
    section(out, "kernel", d.kernel);
    section(out, "layers", d.layers);
    for (const auto& s : d.services_added) out += fmt::format("service {}: added\n", P(s));
    for (const auto& s : d.services_removed) out += fmt::format("service {}: removed\n", P(s));
    if (!d.policy_added.empty() || !d.policy_removed.empty()) {
        out += "romlock policy:\n";
        for (const auto& p : d.policy_removed) out += "  - " + P(p) + "\n";
        for (const auto& p : d.policy_added) out += "  + " + P(p) + "\n";
    }
    if (!d.conf_added.empty() || !d.conf_removed.empty()) {
        out += "appliance.conf (what init does):\n";
        for (const auto& p : d.conf_removed) out += "  - " + P(p) + "\n";
        for (const auto& p : d.conf_added) out += "  + " + P(p) + "\n";
    }
    for (const auto& j : d.jails) {
        out += fmt::format("jail {}: {} added, {} removed, {} changed, {} package changes, {} seccomp changes\n", P(j.service),
                           j.added.size(), j.removed.size(), j.changed.size(), j.packages.size(), j.seccomp.size());
        for (const auto& p : j.packages)
            out += fmt::format("  package {}: {} -> {}\n", P(p.package), p.old_version.empty() ? "(none)" : P(p.old_version),
                               p.new_version.empty() ? "(none)" : P(p.new_version));
        for (const auto& c : j.seccomp) out += fmt::format("  seccomp {}: {} -> {}\n", P(c.what), P(c.old_value), P(c.new_value));
        for (const auto& c : j.java) out += fmt::format("  java {}: {} -> {}\n", P(c.what), P(c.old_value), P(c.new_value));
        for (const auto& e : j.removed) out += "  - " + describe(e) + "\n";
        for (const auto& e : j.added) out += "  + " + describe(e) + "\n";
        for (const auto& c : j.changed) {
            std::vector<std::string> parts;
            for (const auto& v : c.changes)
                parts.push_back(v.what == "sha256" ? "content" : fmt::format("{} {} -> {}", P(v.what), P(v.old_value), P(v.new_value)));
            out += fmt::format("  ~ {}: {}\n", P(c.path), fmt::join(parts, ", "));
        }
    }
    return out;
}

}  // namespace romimg::image
