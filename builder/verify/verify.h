// `romimg verify ISO`: prove an image works and is locked down before it is burnt.
//  1. Rebuild the release ISO from its own parts (kernel, initramfs, layers, /romimg/image.json)
//     and check the sha256 matches, then build the verify copy the same way plus one file,
//     /romimg/selftest (romimg-selftest): so the copy differs from the release in nothing else.
//  2. Boot the copy in QEMU (TCG) with every service port forwarded; wait for each service to be
//     ready and exec-locked; run every trace and verify probe.
//  3. Read the in-guest attack self-test's results from the console (initramfs/selftest.cc).
//  4. Run the probes again (the services still work after the attacks); press the power button.
// One check per line (what, expected, got, PASS/FAIL); passed only if every check passed.
#pragma once

#include "target/target.h"

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace romimg::verify {

struct Check {
    std::string what, expected, got;
    bool pass = false;
};

struct Options {
    std::filesystem::path iso;
    std::filesystem::path json;      // also write the report here ("" = no)
    std::filesystem::path work;      // scratch ("" = a temporary directory, removed)
    std::filesystem::path console;   // keep the serial console here ("" = no)
    int mem_mb = 1024;
    bool uefi = false;
    // UEFI Secure Boot trusting only this certificate (qemu::prepare_secure_boot_vars); implies uefi.
    bool secure_boot = false;
    std::filesystem::path sign_cert;
    int timeout_s = 600;             // for each service to be ready and answer, and the self-test
    // Also the self-test's fault checks (initramfs/selftest_faults.h): a full tmpfs, a fork bomb,
    // SIGKILL and a memory hog in each jail; the copy carries kFaultsFile to ask for them.
    bool faults = false;
};

// On a verify copy's medium: PID 1 runs the self-test with --faults when it is there.
inline constexpr const char* kFaultsFile = "romimg/selftest.faults";

struct Report {
    std::string iso, sha256;
    std::vector<Check> checks;
    int failed() const;
};

// Runs everything; prints each check as it is made. Throws Error only when it cannot verify
// at all (not an ISO, not made by romimg, QEMU missing); a failed check is in the report.
Report verify_image(const Options& opt);

// The target's static self-test binary (built beside romimg); $ROMIMG_SELFTEST (amd64) or
// $ROMIMG_SELFTEST_I386 point elsewhere. The build puts the verity params of its 4 KiB-padded
// copy into the initramfs, so a verify copy runs only this binary.
std::string selftest_binary(const target::Target& t);

// ---- pure parts ----

// The self-test's "romimg-selftest: CHECK ..." lines of a console transcript; `done` says
// whether its "DONE" line was there.
std::vector<Check> parse_selftest(const std::string& console, bool& done);
std::string format_check(const Check& c);
// For each self-test check that a never-listed syscall killed its caller: a check that init
// reported that kill on the console naming the service and the pid (init's seccomp reports).
std::vector<Check> init_seccomp_reports(const std::vector<Check>& selftest, const std::string& console);

// What init said when `service` last died: its "... exited/was killed ...; its last lines:"
// line and the lines after it from the service's own sources ("[apache-console] ..."), joined
// by "\n"; "" if it never died.
std::string last_words(const std::string& console, const std::string& service);
nlohmann::json report_json(const Report& r);
// The ISO paths the ISO stage generates itself (boot loaders, kernel, initramfs): everything
// else in an ISO is payload to carry over.
bool generated_by_iso_stage(const std::string& iso_path);

}  // namespace romimg::verify
