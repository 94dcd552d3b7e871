// Pure: the hardening table and the checks made against it (see hardening.h).
#include "kernel/hardening.h"

#include <set>
#include <sstream>

#include <fmt/format.h>

#include "common/error.h"
#include "common/strings.h"

namespace romimg::kernel {

std::vector<HardeningRow> parse_hardening_table(const std::string& text, const std::string& file) {
    std::vector<HardeningRow> out;
    std::istringstream in(text);
    std::string line;
    long lineno = 0;
    while (std::getline(in, line)) {
        ++lineno;
        if (line.empty() || line[0] == '#') continue;
        std::vector<std::string> f = split(line, '\t');
        if (f.size() != 5)
            throw ConfigError(file, lineno,
                              fmt::format("expected 5 tab-separated fields (kind, arch, name, value, "
                                          "why), got {}",
                                          f.size()));
        HardeningRow r{f[0], f[1], f[2], f[3], f[4], fmt::format("{}:{}", file, lineno)};
        if (r.kind != "kconfig" && r.kind != "cmdline" && r.kind != "leftout")
            throw ConfigError(file, lineno, "kind must be kconfig, cmdline or leftout, got '" + r.kind + "'");
        if (r.name.empty() || r.value.empty() || r.why.empty() || r.arch.empty())
            throw ConfigError(file, lineno, "every field needs a value (a flag's value is '-')");
        if (r.kind == "kconfig" && r.name.rfind("CONFIG_", 0) != 0)
            throw ConfigError(file, lineno, "a kconfig row names a CONFIG_ option, got '" + r.name + "'");
        out.push_back(std::move(r));
    }
    return out;
}

std::vector<HardeningRow> rows_for(const std::vector<HardeningRow>& rows, const std::string& kind,
                                   const std::string& arch) {
    std::vector<HardeningRow> out;
    for (const auto& r : rows)
        if (r.kind == kind && (r.arch == "all" || r.arch == arch)) out.push_back(r);
    return out;
}

std::vector<std::string> dotconfig_table_mismatches(const std::vector<HardeningRow>& rows,
                                                    const std::string& arch,
                                                    const std::map<std::string, std::string>& dotconfig) {
    std::vector<std::string> out;
    for (const auto& r : rows_for(rows, "kconfig", arch)) {
        auto it = dotconfig.find(r.name);
        std::string got = it == dotconfig.end() ? "n" : it->second;
        if (got != r.value)
            out.push_back(fmt::format("{}: {} should be {} ({}), the .config has {}", r.where, r.name,
                                      r.value, r.why,
                                      it == dotconfig.end() ? "no such option" : got));
    }
    return out;
}

std::vector<std::string> fragment_table_mismatches(const std::vector<HardeningRow>& rows,
                                                   const std::string& arch,
                                                   const std::vector<FragmentOption>& fragments) {
    std::map<std::string, const FragmentOption*> asked;
    for (const auto& o : fragments) asked[o.name] = &o;
    std::vector<std::string> out;
    for (const auto& r : rows_for(rows, "kconfig", arch)) {
        auto it = asked.find(r.name);
        if (it == asked.end())
            out.push_back(fmt::format("{}: {}={} is in the table but no fragment asks for it", r.where,
                                      r.name, r.value));
        else if (it->second->value != r.value)
            out.push_back(fmt::format("{}: the table wants {}={}, {} asks for {}", r.where, r.name, r.value,
                                      it->second->where, it->second->value));
    }
    for (const auto& r : rows_for(rows, "leftout", arch)) {
        auto it = asked.find(r.name);
        if (it != asked.end() && it->second->value == r.value)
            out.push_back(fmt::format("{}: {}={} is listed as left out, but {} asks for it", r.where,
                                      r.name, r.value, it->second->where));
    }
    return out;
}

std::string cmdline_token(const HardeningRow& row) {
    return row.value == "-" ? row.name : row.name + "=" + row.value;
}

std::vector<std::string> missing_cmdline_params(const std::string& cmdline,
                                                const std::vector<std::string>& wanted) {
    std::set<std::string> words;
    std::istringstream in(cmdline);
    for (std::string w; in >> w;) words.insert(w);
    std::vector<std::string> out;
    for (const auto& w : wanted)
        if (!words.count(w)) out.push_back(w);
    return out;
}

std::vector<std::string> hardening_cmdline(const std::string& arch) {
    // Only what the .config cannot say: isolinux's APPEND line holds 240 characters (the ISO
    // stage refuses more), and the first full set (init_on_free=1, lockdown=..., each one the
    // .config already forces) made a 355-character line that failed the e2e build.
    std::vector<std::string> p = {"slab_nomerge", "page_alloc.shuffle=1"};
    if (arch == "x86_64" || arch == "i386") p.push_back("pti=on");  // 32-bit: PAE kernels
    if (arch == "x86_64") p.push_back("iommu=force");  // a PowerEdge 1550 has no IOMMU
    return p;
}

}  // namespace romimg::kernel
