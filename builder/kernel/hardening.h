// The kernel's hardening table (kernel-config/hardening.tsv): each option and boot parameter
// the appliance sets for hardening, its value and why, and each recommendation it leaves out
// and why. Pure: parsing and the comparisons the tests and `romimg verify` make.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "kernel/kernel.h"

namespace romimg::kernel {

struct HardeningRow {
    std::string kind;   // "kconfig", "cmdline" or "leftout"
    std::string arch;   // "all" or a kernel ARCH
    std::string name;   // CONFIG_FOO, or a boot parameter
    std::string value;  // .config value ("n" = not set); cmdline: the value, "-" for a flag
    std::string why;
    std::string where;  // file:line
};

// Tab-separated: kind, arch, name, value, why; '#' lines and blank lines are skipped.
// Throws ConfigError (file:line) for anything else.
std::vector<HardeningRow> parse_hardening_table(const std::string& text, const std::string& file);

// The rows that apply to kernel ARCH `arch` ("all" and its own).
std::vector<HardeningRow> rows_for(const std::vector<HardeningRow>& rows, const std::string& kind,
                                   const std::string& arch);

// kconfig rows whose value the .config does not have (an absent option counts as "n").
std::vector<std::string> dotconfig_table_mismatches(const std::vector<HardeningRow>& rows,
                                                    const std::string& arch,
                                                    const std::map<std::string, std::string>& dotconfig);

// kconfig rows the fragments do not ask for with that value; leftout CONFIG_ rows they do ask
// for with the recommended value (the table would then be stale).
std::vector<std::string> fragment_table_mismatches(const std::vector<HardeningRow>& rows,
                                                   const std::string& arch,
                                                   const std::vector<FragmentOption>& fragments);

// The command-line token a cmdline row stands for: "name=value", or "name" for a flag.
std::string cmdline_token(const HardeningRow& row);

// The tokens of `wanted` that are not whitespace-separated words of `cmdline`.
std::vector<std::string> missing_cmdline_params(const std::string& cmdline,
                                                const std::vector<std::string>& wanted);

// The hardening parameters the image's kernel command line carries for kernel ARCH `arch`
// (what the table's cmdline rows say; a unit test keeps the two equal).
std::vector<std::string> hardening_cmdline(const std::string& arch);

}  // namespace romimg::kernel
