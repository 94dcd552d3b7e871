#include "image/diff.h"

#include <map>
#include <set>

#include <fmt/format.h>

#include "common/strings.h"

namespace romimg::image {

using nlohmann::json;

bool ImageDiff::empty() const {
    for (const auto& j : jails)
        if (!j.empty()) return false;
    return image.empty() && kernel.empty() && services_added.empty() && services_removed.empty() &&
           policy_added.empty() && policy_removed.empty() && layers.empty();
}

namespace {

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

JailDiff diff_jails(const JailRecord& a, const JailRecord& b) {
    JailDiff d;
    d.service = a.service;
    std::map<std::string, const JailEntry*> old_entries, new_entries;
    for (const auto& e : a.entries) old_entries[e.path] = &e;
    for (const auto& e : b.entries) new_entries[e.path] = &e;
    for (const auto& [path, e] : old_entries) {
        auto it = new_entries.find(path);
        if (it == new_entries.end()) {
            d.removed.push_back(*e);
            continue;
        }
        FileChange c = compare_entries(*e, *it->second);
        if (!c.changes.empty()) d.changed.push_back(std::move(c));
    }
    for (const auto& [path, e] : new_entries)
        if (!old_entries.count(path)) d.added.push_back(*e);
    std::set<std::string> names;
    for (const auto& [p, v] : a.packages) names.insert(p);
    for (const auto& [p, v] : b.packages) names.insert(p);
    for (const auto& p : names) {
        auto ia = a.packages.find(p), ib = b.packages.find(p);
        std::string va = ia == a.packages.end() ? "" : ia->second, vb = ib == b.packages.end() ? "" : ib->second;
        // A package that is in both with no version change is not news, nor is one that is in
        // neither with a version (it owns only directories).
        if (va != vb || (ia == a.packages.end()) != (ib == b.packages.end())) d.packages.push_back({p, va, vb});
    }
    return d;
}

void diff_layers(std::vector<ValueChange>& out, const ImageInfo& a, const ImageInfo& b) {
    std::map<std::string, const LayerInfo*> old_layers, new_layers;
    for (const auto& l : a.layers) old_layers[l.iso_path] = &l;
    for (const auto& l : b.layers) new_layers[l.iso_path] = &l;
    for (const auto& [path, l] : old_layers) {
        auto it = new_layers.find(path);
        if (it == new_layers.end()) {
            out.push_back({path, fmt::format("{} on {}", l->sha256, l->mount), "(removed)"});
            continue;
        }
        compare(out, path + " sha256", l->sha256, it->second->sha256);
        compare(out, path + " bytes", std::to_string(l->bytes), std::to_string(it->second->bytes));
        compare(out, path + " mount", l->mount, it->second->mount);
    }
    for (const auto& [path, l] : new_layers)
        if (!old_layers.count(path)) out.push_back({path, "(added)", fmt::format("{} on {}", l->sha256, l->mount)});
}

}  // namespace

ImageDiff diff_images(const ImageManifest& a, const ImageManifest& b) {
    ImageDiff d;
    compare(d.image, "label", a.info.label, b.info.label);
    compare(d.image, "cmdline", a.info.cmdline, b.info.cmdline);
    compare(d.image, "romlock mode", a.info.romlock_mode, b.info.romlock_mode);
    compare(d.image, "SOURCE_DATE_EPOCH", std::to_string(a.info.source_date_epoch),
            std::to_string(b.info.source_date_epoch));
    compare(d.kernel, "version", a.kernel.version, b.kernel.version);
    compare(d.kernel, ".config sha256", a.kernel.config_sha256, b.kernel.config_sha256);
    compare(d.kernel, "cache key", a.kernel.cache_key, b.kernel.cache_key);
    compare(d.kernel, "source", a.kernel.source, b.kernel.source);
    compare(d.kernel, "compiler", a.kernel.compiler, b.kernel.compiler);

    std::map<std::string, const JailRecord*> old_jails, new_jails;
    for (const auto& j : a.jails) old_jails[j.service] = &j;
    for (const auto& j : b.jails) new_jails[j.service] = &j;
    for (const auto& [name, j] : old_jails) {
        auto it = new_jails.find(name);
        if (it == new_jails.end()) {
            d.services_removed.push_back(name);
            continue;
        }
        JailDiff jd = diff_jails(*j, *it->second);
        if (!jd.empty()) d.jails.push_back(std::move(jd));
    }
    for (const auto& [name, j] : new_jails)
        if (!old_jails.count(name)) d.services_added.push_back(name);

    std::multiset<std::string> old_policy(a.policy.begin(), a.policy.end()), new_policy(b.policy.begin(), b.policy.end());
    for (const auto& p : a.policy)
        if (!new_policy.count(p)) d.policy_removed.push_back(p);
    for (const auto& p : b.policy)
        if (!old_policy.count(p)) d.policy_added.push_back(p);
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

std::string describe(const JailEntry& e) {
    std::string s = fmt::format("{} {}", e.type, e.path);
    if (e.type == "file" || e.type == "generated") s += " (" + human_bytes(e.size) + ")";
    if (!e.package.empty()) s += fmt::format(" [{} {}]", e.package, e.version);
    return s;
}

void section(std::string& out, const std::string& title, const std::vector<ValueChange>& v) {
    if (v.empty()) return;
    out += title + ":\n";
    for (const auto& c : v) out += fmt::format("  {}: {} -> {}\n", c.what, c.old_value, c.new_value);
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
                         {"packages", packages}});
    }
    return {{"identical", d.empty()},
            {"image", changes_json(d.image)},
            {"kernel", changes_json(d.kernel)},
            {"services_added", d.services_added},
            {"services_removed", d.services_removed},
            {"jails", jails},
            {"policy_added", d.policy_added},
            {"policy_removed", d.policy_removed},
            {"layers", changes_json(d.layers)}};
}

std::string diff_table(const ImageDiff& d) {
    if (d.empty()) return "images are identical (same manifests, kernel, policy and layers)\n";
    std::string out;
    section(out, "image", d.image);
    section(out, "kernel", d.kernel);
    section(out, "layers", d.layers);
    for (const auto& s : d.services_added) out += fmt::format("service {}: added\n", s);
    for (const auto& s : d.services_removed) out += fmt::format("service {}: removed\n", s);
    if (!d.policy_added.empty() || !d.policy_removed.empty()) {
        out += "romlock policy:\n";
        for (const auto& p : d.policy_removed) out += "  - " + p + "\n";
        for (const auto& p : d.policy_added) out += "  + " + p + "\n";
    }
    for (const auto& j : d.jails) {
        out += fmt::format("jail {}: {} added, {} removed, {} changed, {} package changes\n", j.service, j.added.size(),
                           j.removed.size(), j.changed.size(), j.packages.size());
        for (const auto& p : j.packages)
            out += fmt::format("  package {}: {} -> {}\n", p.package, p.old_version.empty() ? "(none)" : p.old_version,
                               p.new_version.empty() ? "(none)" : p.new_version);
        for (const auto& e : j.removed) out += "  - " + describe(e) + "\n";
        for (const auto& e : j.added) out += "  + " + describe(e) + "\n";
        for (const auto& c : j.changed) {
            std::vector<std::string> parts;
            for (const auto& v : c.changes)
                parts.push_back(v.what == "sha256" ? "content" : fmt::format("{} {} -> {}", v.what, v.old_value, v.new_value));
            out += fmt::format("  ~ {}: {}\n", c.path, fmt::join(parts, ", "));
        }
    }
    return out;
}

}  // namespace romimg::image
