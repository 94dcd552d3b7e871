// `romimg verify ISO`: boot a copy of the image with the attack self-test, run every probe and
// every attack, report one line per check; exit 0 only if all passed.
#include <fmt/format.h>

#include "cli/cli.h"
#include "common/error.h"
#include "common/log.h"
#include "verify/verify.h"

namespace romimg::cli {

namespace {

const char* const verify_usage =
    "usage: romimg verify ISO [--json FILE] [--uefi | --secure-boot --sign-cert CERT] [--mem MB] [--timeout S]\n"
    "                         [--faults] [--work DIR] [--console FILE]\n"
    "\n"
    "Proves an image before it is burnt. Makes a verify copy of ISO that differs from it in one\n"
    "file, /romimg/selftest (it first rebuilds ISO from its own parts and checks the sha256 is\n"
    "the same), boots the copy in QEMU (TCG), waits for every service to be ready and\n"
    "exec-locked, runs every trace and verify probe through forwarded ports, collects the\n"
    "in-guest attack self-test (from inside each jail and as root outside them: exec, writes,\n"
    "setuid, mknod, other jails, /proc/1, ptrace, raw sockets, chroot escapes, mounts, remounts,\n"
    "pivot_root, policy writes, modules, /dev/mem, kexec), probes again, and powers off.\n"
    "Prints one line per check: PASS/FAIL, what, expected, got.\n"
    "\n"
    "options:\n"
    "  --json FILE     also write the report as JSON\n"
    "  --uefi          boot through UEFI firmware instead of the BIOS\n"
    "  --secure-boot --sign-cert CERT   UEFI with Secure Boot on, trusting only CERT (a signed image,\n"
    "                  romimg build --sign-key): also checks that every content layer's signature was\n"
    "                  checked\n"
    "  --mem MB        guest memory (default 1024)\n"
    "  --timeout S     for the services to come up and answer, and for the self-test (default 600)\n"
    "  --faults        also the fault checks, in each jail: fill its tmpfs, a fork bomb, SIGKILL of\n"
    "                  its main process, a memory hog; the others must keep serving, init must\n"
    "                  restart it and it must serve again (docs/limits.md). Takes each service\n"
    "                  down twice\n"
    "  --work DIR      keep the verify copy and logs here (default: a temporary dir, removed)\n"
    "  --console FILE  save the guest's serial console\n"
    "\n"
    "exit status: 0 every check passed, 1 a check failed or the image could not be verified,\n"
    "2 usage error. Does not need root.\n";

int verify_main(const GlobalOptions&, const std::vector<std::string>& args) {
    verify::Options o;
    std::string json, work, console;
    ArgParser p("verify", verify_usage, args);
    p.option("--json", json);
    p.flag("--uefi", o.uefi);
    p.flag("--secure-boot", o.secure_boot);
    std::string sign_cert;
    p.option("--sign-cert", sign_cert);
    p.option("--mem", o.mem_mb);
    p.option("--timeout", o.timeout_s);
    p.option("--work", work);
    p.option("--console", console);
    p.flag("--faults", o.faults);
    auto positional = p.parse();
    if (positional.size() != 1)
        throw UsageError(fmt::format("romimg verify takes one ISO, got {} arguments (see `romimg verify --help`)",
                                     positional.size()));
    if (o.mem_mb > 65536) throw UsageError(fmt::format("--mem {} is too large: at most 65536 (MB)", o.mem_mb));
    if (o.mem_mb < 256) throw UsageError(fmt::format("--mem {} is too small: the appliance needs at least 256 MB", o.mem_mb));
    if (o.timeout_s < 30) throw UsageError(fmt::format("--timeout {} is too short: give the services at least 30 s", o.timeout_s));
    if (o.secure_boot && sign_cert.empty())
        throw UsageError("--secure-boot needs --sign-cert CERT.pem: the certificate the firmware is to trust");
    if (!sign_cert.empty() && !o.secure_boot) throw UsageError("--sign-cert is for --secure-boot");
    o.sign_cert = sign_cert;
    o.iso = positional[0];
    o.json = json;
    o.work = work;
    o.console = console;
    verify::Report r = verify::verify_image(o);
    int failed = r.failed();
    log::info("\n{}: {} checks, {} failed{}", o.iso.string(), r.checks.size(), failed,
              o.json.empty() ? "" : " (report: " + o.json.string() + ")");
    if (failed)
        throw Error(fmt::format("verification failed: {} of {} checks failed (the FAIL lines above); "
                                "do not release this image",
                                failed, r.checks.size()));
    log::info("verified: {} works and is locked down", o.iso.string());
    return 0;
}

}  // namespace

Subcommand verify_command() {
    return {"verify", "boot an image with the attack self-test and check it works and is locked down", verify_usage,
            verify_main};
}

}  // namespace romimg::cli
