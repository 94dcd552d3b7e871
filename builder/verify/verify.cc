#include "verify.h"

#include <unistd.h>

#include <chrono>
#include <optional>
#include <regex>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/fs.h"
#include "install/layout.h"
#include "verity/tree.h"
#include "common/log.h"
#include "common/places.h"
#include "common/names.h"
#include "common/signals.h"
#include "common/strings.h"
#include "image/image_info.h"
#include "iso/iso.h"
#include "kernel/hardening.h"
#include "qemu/data_disk_image.h"
#include "qemu/qemu.h"
#include "ready_check.h"
#include "target/target.h"
#include "trace/probe.h"
#include "workdir/workdir.h"

namespace romimg::verify {

using namespace std::chrono_literals;
namespace sfs = std::filesystem;

int Report::failed() const {
    int n = 0;
    for (const auto& c : checks) n += !c.pass;
    return n;
}

std::string last_words(const std::string& console, const std::string& service) {
    const std::string head = "romimg-init: [" + service + "] " + service + " ";
    const std::string source = "romimg-init: [" + service + "-";
    std::vector<std::string> lines;
    size_t pos = 0;
    while (pos < console.size()) {
        size_t nl = console.find('\n', pos);
        std::string line = console.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
        pos = nl == std::string::npos ? console.size() : nl + 1;
        while (!line.empty() && line.back() == '\r') line.pop_back();
        lines.push_back(std::move(line));
    }
    for (size_t i = lines.size(); i-- > 0;) {
        const std::string& l = lines[i];
        if (l.rfind(head, 0) != 0 || (l.find("; its last lines:") == std::string::npos && l.find("; it wrote nothing") == std::string::npos))
            continue;
        std::string out = l.substr(l.find("] ") + 2);
        for (size_t j = i + 1; j < lines.size(); ++j) {
            if (lines[j].rfind("romimg-init: ", 0) != 0) continue;  // a kernel message in between
            if (lines[j].rfind(source, 0) != 0) break;
            out += "\n  " + lines[j].substr(std::string("romimg-init: ").size());
        }
        return out;
    }
    return "";
}

std::vector<Check> init_seccomp_reports(const std::vector<Check>& selftest, const std::string& console) {
    static const std::regex never(R"(self-test seccomp:(\S+) never: .*)");
    static const std::regex pid(R"(\(pid (\d+)\))");
    std::vector<Check> out;
    for (const auto& c : selftest) {
        std::smatch m, p;
        if (!c.pass || !std::regex_match(c.what, m, never) || !std::regex_search(c.got, p, pid)) continue;
        const std::string service = m[1].str();
        const std::string want = "romimg-init: [" + service + "] seccomp killed pid " + p[1].str() + " ";
        std::string got = "no such line from init";
        for (const auto& line : split(console, '\n'))
            if (line.find(want) != std::string::npos) got = line.substr(line.find("romimg-init: "));
        while (!got.empty() && got.back() == '\r') got.pop_back();
        out.push_back({fmt::format("init reports the seccomp kill of pid {} in {} (console and --log-to)", p[1].str(), service),
                       want + "...", got, got.rfind("romimg-init: ", 0) == 0});
    }
    return out;
}

std::vector<Check> parse_selftest(const std::string& console, bool& done) {
    static const std::regex check(
        R"(romimg-selftest: CHECK (PASS|FAIL) (\S+) (\S+) \| (.*?) \| expected: (.*?) \| got: (.*))");
    std::vector<Check> out;
    done = false;
    for (std::string line : split(console, '\n')) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        std::smatch m;
        if (std::regex_search(line, m, check))
            out.push_back({fmt::format("self-test {} {}: {}", m[2].str(), m[3].str(), m[4].str()), m[5].str(),
                           m[6].str(), m[1] == "PASS"});
        else if (line.find("romimg-selftest: DONE ") != std::string::npos)
            done = true;
    }
    return out;
}

std::string format_check(const Check& c) {
    // The self-test's lines come from the guest, which the ISO made: escaped.
    return fmt::format("{}  {} | expected: {} | got: {}", c.pass ? "PASS" : "FAIL", names::printable(c.what),
                       names::printable(c.expected), names::printable_text(c.got));  // last lines: one per line
}

nlohmann::json report_json(const Report& r) {
    nlohmann::json checks = nlohmann::json::array();
    for (const auto& c : r.checks)
        checks.push_back({{"what", c.what}, {"expected", c.expected}, {"got", c.got}, {"pass", c.pass}});
    return {{"iso", r.iso},
            {"sha256", r.sha256},
            {"checks", checks},
            {"total", r.checks.size()},
            {"failed", r.failed()},
            {"passed", r.failed() == 0 && !r.checks.empty()}};
}

bool generated_by_iso_stage(const std::string& p) {
    return p == iso::kKernelPath || p == iso::kInitrdPath || p.rfind(std::string(iso::kIsolinuxDir) + "/", 0) == 0;
}

namespace {

class Run {
public:
    explicit Run(Report& r) : r_(r) {}
    bool add(bool pass, std::string what, std::string expected, std::string got) {
        Check c{std::move(what), std::move(expected), std::move(got), pass};
        log::info("{}", format_check(c));
        r_.checks.push_back(std::move(c));
        return pass;
    }

private:
    Report& r_;
};

struct Parts {
    sfs::path kernel, initrd;
    std::vector<iso::Payload> payload;
    sfs::path efi_binary;  // a signed image's unified kernel image (BOOTX64.EFI), else empty
};

// A signed image boots its UKI from the EFI boot image: copy it out (xorriso, then mtools).
sfs::path extract_efi_binary(const sfs::path& iso, const sfs::path& dir) {
    sfs::create_directories(dir / "boot-images");
    Command x;
    x.argv = {"xorriso", "-osirrox", "on", "-indev", sfs::absolute(iso).string(), "-extract_boot_images",
              (dir / "boot-images").string() + "/"};
    x.log = dir / "extract.log";
    run(x);
    const sfs::path img = dir / "boot-images" / "eltorito_img2_uefi.img";
    if (!sfs::is_regular_file(img)) throw Error(fmt::format("{}: a signed image without a UEFI boot image", iso.string()));
    Command m;
    m.argv = {"mcopy", "-n", "-i", img.string(), "::EFI/BOOT/BOOTX64.EFI", (dir / "BOOTX64.EFI").string()};
    m.log = dir / "extract.log";
    run(m);
    return dir / "BOOTX64.EFI";
}

// Everything the ISO stage needs to make this ISO again, copied out of it.
Parts extract_parts(const sfs::path& iso, const sfs::path& dir) {
    Parts p;
    sfs::remove_all(dir);  // a --work dir verified before: its old parts would collide with these
    sfs::create_directories(dir / "payload");
    p.kernel = dir / "vmlinuz";
    p.initrd = dir / "initrd.img";
    image::extract_iso_file(iso, iso::kKernelPath, p.kernel);
    image::extract_iso_file(iso, iso::kInitrdPath, p.initrd);
    if (!image::read_image_info(iso).signer.empty()) p.efi_binary = extract_efi_binary(iso, dir);
    for (const auto& f : image::iso_files(iso)) {
        if (generated_by_iso_stage(f)) continue;
        image::extract_iso_file_beneath(iso, f, dir / "payload");
        p.payload.push_back({dir / "payload" / f, f});
    }
    return p;
}

iso::IsoRequest iso_request(const image::ImageInfo& info, const Parts& parts, const sfs::path& out,
                            const sfs::path& work) {
    iso::IsoRequest req;
    req.kernel = parts.kernel;
    req.initramfs = parts.initrd;
    req.payload = parts.payload;
    req.efi_binary = parts.efi_binary;
    req.label = info.label;
    req.cmdline = info.cmdline;
    req.uefi = target::target_named(info.arch, "image.json arch").uefi;
    req.source_date_epoch = (time_t)info.source_date_epoch;
    req.output = out;
    req.work_dir = work;
    req.log = work / "logs" / "iso.log";
    return req;
}

struct ServiceTarget {
    const image::ServiceInfo* svc = nullptr;
    int host_port = 0;
    std::string base;  // http://127.0.0.1:HOST
};

// Every probe of every service; the first one of each retried until `deadline`.
void run_probes(Run& run, std::vector<ServiceTarget>& targets, const std::string& when,
                std::chrono::steady_clock::time_point deadline) {
    for (auto& t : targets) {
        if (t.base.empty()) continue;
        bool first = true;
        for (const auto& spec : t.svc->probes) {
            trace::Probe probe = trace::parse_probe(spec);
            trace::ProbeResult res;
            do {
                res = trace::run_probe(probe, t.base, 60);
                if (res.ok || !first) break;
                signals::throw_if_interrupted();
                std::this_thread::sleep_for(2s);
            } while (std::chrono::steady_clock::now() < deadline);
            first = false;
            std::string seen = !probe.argv.empty() ? (res.ok ? "exit 0" : res.detail)
                               : res.status ? fmt::format("HTTP {}{}", res.status, res.ok ? "" : " (" + res.detail + ")")
                                            : res.detail;
            run.add(res.ok, fmt::format("{} {}: {}", t.svc->name, when, spec), trace::expectation(probe), seen);
        }
    }
}

// What init said of the boot chain and of every layer it mapped (before the policy is sealed):
// each layer through dm-verity, and Secure Boot as this boot has it (on, with every content layer's
// signature checked, only when booted so).
void boot_chain_checks(Run& run, qemu::Machine& m, const image::ImageInfo& info, const Options& opt) {
    m.wait_for_line(std::regex("romlock policy written and sealed"), std::chrono::seconds(opt.timeout_s), false);
    const std::string console = m.console();
    const bool root = console.find("romimg-init: root: dm-verity over live/root.sqfs") != std::string::npos;
    run.add(root, "the root is mounted through dm-verity", "root: dm-verity over live/root.sqfs",
            root ? "mapped" : "no such console line");
    const bool sb_on = console.find("romimg-init: Secure Boot is on") != std::string::npos;
    const bool sb_off = console.find("romimg-init: Secure Boot is off") != std::string::npos;
    run.add(opt.secure_boot ? sb_on : sb_off, "init reports the boot chain's state",
            opt.secure_boot ? "Secure Boot is on" : "Secure Boot is off (not anchored)",
            sb_on ? "Secure Boot is on" : sb_off ? "Secure Boot is off" : "no such console line");
    for (size_t i = 1; i < info.layers.size(); ++i) {
        const std::string& l = info.layers[i].iso_path;
        const std::regex line("romimg-init: content for \\S+: /run/medium/" + l + " on \\S+ \\(read-only, verity(, signature checked)?\\)");
        std::smatch sm;
        const bool seen = std::regex_search(console, sm, line);
        const bool checked = seen && sm[1].matched;
        run.add(seen && (!opt.secure_boot || checked), fmt::format("{} is mounted through dm-verity", l),
                opt.secure_boot ? "verity, signature checked" : "verity",
                !seen ? "no such console line" : checked ? "verity, signature checked" : "verity");
    }
    log::info("     image {}: {}", info.signer.empty() ? "unsigned" : "signed by " + info.signer,
              info.signer.empty() ? "no boot of it is anchored (BIOS never is)"
                                  : "anchored when booted under UEFI Secure Boot with its certificate in db; BIOS boot is not");
}

}  // namespace

std::string selftest_binary(const target::Target& t) {
    std::string env = "ROMIMG_SELFTEST";
    if (t.name != "amd64")
        for (char c : "_" + t.name) env += (char)toupper((unsigned char)c);
    if (const char* e = getenv(env.c_str()); e && *e) return e;
    return install::program(t.selftest).string();
}

Report verify_image(const Options& opt) {
    // Where it would write, before reading the ISO: usage errors first.
    if (!opt.json.empty()) places::check_output_file(opt.json, "--json");
    if (!opt.console.empty()) places::check_output_file(opt.console, "--console");
    if (!opt.work.empty()) workdir::check(opt.work);
    const sfs::path tmp_parent = opt.work.empty() ? fs::temp_parent() : sfs::path();
    if (!sfs::is_regular_file(opt.iso)) throw Error(fmt::format("no ISO at {}", opt.iso.string()));
    image::ImageInfo info = image::read_image_info(opt.iso);
    // Everything the ISO says is checked before anything is created or booted: every file name
    // (iso_files refuses a crafted one) and every probe.
    image::iso_files(opt.iso);
    for (const auto& s : info.services)
        for (const auto& p : s.probes) trace::parse_probe(p);
    const target::Target& tgt = target::target_named(info.arch, "image.json arch");
    const std::string selftest = selftest_binary(tgt);
    if (!sfs::is_regular_file(selftest))
        throw Error(install::missing_program(tgt.selftest, selftest));
    if ((opt.uefi || opt.secure_boot) && !tgt.uefi)
        throw UsageError(fmt::format("--uefi: this is an {} image, which boots through the BIOS only", tgt.name));
    signals::install_interrupt_handlers();
    Report report;
    report.iso = sfs::absolute(opt.iso).string();
    Run run(report);

    std::optional<fs::TempDir> tmp;
    sfs::path work = opt.work;
    if (work.empty()) {
        tmp.emplace(tmp_parent, "romimg-verify-");
        work = tmp->path();
    } else {
        work = sfs::absolute(work);
        workdir::claim(work);
    }

    // 1. The verify copy, and the proof that it is the release plus one file.
    sfs::path copy = work / "verify.iso";
    {
        auto stage = log::stage("verify: the self-test copy");
        report.sha256 = fs::sha256_file(opt.iso);
        Parts parts = extract_parts(opt.iso, work / "parts");
        iso::build_iso(iso_request(info, parts, work / "release-again.iso", work / "again"));
        std::string again = fs::sha256_file(work / "release-again.iso");
        sfs::remove(work / "release-again.iso");
        run.add(again == report.sha256, "the release rebuilt from its own parts is bit-identical",
                "sha256 " + report.sha256, "sha256 " + again);
        // Padded to 4 KiB with its verity tree: the image's init runs it only if it matches the
        // params its initramfs carries (made by the build from this same binary).
        const sfs::path padded = work / "selftest";
        verity::pad_copy(selftest, padded);
        const verity::Tree tree = verity::make_tree(padded, fs::sha256_file(padded), 0, work / "cache", "the self-test");
        parts.payload.push_back({padded, "romimg/selftest"});
        parts.payload.push_back({tree.file, std::string("romimg/selftest") + verity::kTreeSuffix});
        if (opt.faults) {
            const sfs::path faults = work / "selftest.faults";
            fs::write_file_atomic(faults, "the self-test's fault checks: romimg verify --faults\n");
            parts.payload.push_back({faults, kFaultsFile});
        }
        iso::build_iso(iso_request(info, parts, copy, work / "copy"));
        stage.detail(copy.string() + " = the release + /romimg/selftest and its verity tree" +
                     (opt.faults ? " + /" + std::string(kFaultsFile) : ""));
    }
    run.add(info.romlock_mode == "enforce", "the kernel command line enforces romlock", "romlock.mode=enforce",
            "romlock.mode=" + info.romlock_mode);
    {
        // An image made before the hardening parameters, or with its command line edited, boots
        // a kernel that merges slabs, keeps freed memory, and so on.
        const std::vector<std::string> wanted = kernel::hardening_cmdline(tgt.kernel_arch);
        const std::vector<std::string> missing = kernel::missing_cmdline_params(info.cmdline, wanted);
        run.add(missing.empty(), "the kernel command line carries the hardening parameters",
                fmt::format("{}", fmt::join(wanted, " ")),
                missing.empty() ? "all of them" : fmt::format("missing: {}", fmt::join(missing, " ")));
    }

    // 2. Boot it.
    auto stage = log::stage("verify: boot and attack");
    std::vector<ServiceTarget> targets;
    qemu::QemuSpec spec;
    qemu::apply_target(spec, tgt);
    spec.iso = copy;
    spec.mem_mb = opt.mem_mb;
    for (const auto& s : info.services) {
        ServiceTarget t;
        t.svc = &s;
        if (!s.ports.empty()) {
            int guest = s.ports.front();
            appliance::ReadyCheck ready;
            std::string why;
            if (appliance::parse_ready_check(s.ready, ready, why) && ready.kind != appliance::ReadyCheck::none)
                guest = ready.port;  // image.json was checked: this parses
            t.host_port = qemu::free_local_port();
            t.base = fmt::format("http://127.0.0.1:{}", t.host_port);
            spec.forwards.push_back({(uint16_t)t.host_port, (uint16_t)guest});
        }
        targets.push_back(t);
    }
    // Services that keep state start only with a data disk: a scratch one, fresh and empty, as
    // an appliance's first boot has it (its seed copied in, written, thrown away afterwards).
    std::vector<std::string> keep_state;
    for (const auto& s : info.services)
        if (!s.data.empty()) keep_state.push_back(s.name);
    if (!keep_state.empty()) {
        spec.data_disk = work / "data.img";
        std::filesystem::remove(spec.data_disk);
        qemu::make_data_disk(spec.data_disk, 1LL << 30);
        log::info("a scratch data disk (1 GiB, empty) for {}", fmt::join(keep_state, ", "));
    }
    if (opt.uefi || opt.secure_boot) {
        spec.firmware = qemu::Firmware::uefi;
        spec.secure_boot = opt.secure_boot;
        spec.ovmf_vars = opt.secure_boot ? qemu::prepare_secure_boot_vars(work, opt.sign_cert) : qemu::prepare_uefi_vars(work);
    }
    auto t0 = std::chrono::steady_clock::now();
    auto deadline = t0 + std::chrono::seconds(opt.timeout_s);
    auto left = [&] {
        return std::max(1ms, std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
    };
    auto since = [&] { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); };
    qemu::Machine m = qemu::Machine::start(spec, work);
    auto keep_console = [&] {
        if (!opt.console.empty()) fs::write_file_atomic(opt.console, m.console());
    };
    try {
        boot_chain_checks(run, m, info, opt);
        bool sealed = m.wait_for_line(std::regex("romlock policy written and sealed"), left(), false).has_value();
        run.add(sealed, "init wrote the romlock policy and sealed it", "sealed before the services start",
                sealed ? "sealed" : "no such console line");
        for (auto& t : targets) {
            // Ready, or not started at all (init says why at once: no wait for the deadline).
            auto line = m.wait_for_line(std::regex("romimg-init: (" + t.svc->name + " is ready .*|NOT starting " + t.svc->name + ": .*)"),
                                        left(), false);
            if (line && line->find("NOT starting") != std::string::npos) {
                run.add(false, fmt::format("{} is ready", t.svc->name), "ready", line->substr(line->find("NOT starting")));
                t.base.clear();  // nothing to probe
                continue;
            }
            std::string got = line ? line->substr(line->find(t.svc->name)) : "not ready";
            if (!line) {
                std::string words = last_words(m.console(), t.svc->name);
                if (!words.empty()) got += "; " + words;
            }
            run.add(line.has_value(), fmt::format("{} is ready", t.svc->name), "ready", got);
            if (line && t.svc->exec_lock)
                run.add(line->find("and exec-locked") != std::string::npos, fmt::format("{} is exec-locked once ready", t.svc->name),
                        "exec-locked", got);
            else if (line)
                run.add(false, fmt::format("{} is exec-locked once ready", t.svc->name), "exec-locked",
                        "the image turns the exec lock off for it");
            // What init loaded at boot (before the services start), not what the image claims.
            std::smatch sm;
            const std::string console = m.console();
            const bool seen = std::regex_search(console, sm, std::regex("romimg-init: seccomp for " + t.svc->name + ": (\\S+), (\\d+) BPF"));
            run.add(seen && sm[1] == "enforce", fmt::format("{} runs under its seccomp filter, enforced", t.svc->name),
                    "enforce", seen ? fmt::format("{} ({} BPF instructions)", sm[1].str(), sm[2].str()) : "no seccomp filter loaded by init");
        }
        log::info("     (all services up {:.1f} s after QEMU started)", since());
        run_probes(run, targets, "answers", deadline);

        // 3. The self-test runs in the guest once every service was ready.
        bool done = m.wait_for_line(std::regex("romimg-selftest: DONE "), left(), false).has_value();
        std::vector<Check> attacks = parse_selftest(m.console(), done);
        for (auto& c : attacks) {
            log::info("{}", format_check(c));
            report.checks.push_back(c);
        }
        run.add(done && attacks.size() >= 20, "the in-guest self-test ran to the end", ">= 20 checks and DONE",
                fmt::format("{} checks{}", attacks.size(), done ? ", DONE" : ", no DONE line"));
        if (opt.faults) {
            // Four per service at least (tmpfs-full, fork-bomb, killed, memory-hog).
            const size_t faults = std::count_if(attacks.begin(), attacks.end(),
                                                [](const Check& c) { return c.what.rfind("self-test fault:", 0) == 0; });
            run.add(faults >= 4 * info.services.size(), "the self-test made the fault checks (--faults)",
                    fmt::format(">= {} fault checks", 4 * info.services.size()), fmt::format("{} fault checks", faults));
        }
        for (auto& c : init_seccomp_reports(attacks, m.console())) {
            log::info("{}", format_check(c));
            report.checks.push_back(c);
        }

        // 4. Still working after all that; then a clean power-off.
        run_probes(run, targets, "after the attacks", std::chrono::steady_clock::now() + 120s);
        m.power_button();
        bool stopped = m.wait_for_line(std::regex("all services stopped; syncing"), 120s, true).has_value();
        bool off = m.wait_exit(120s).has_value();
        run.add(stopped && off, "the power button stops the services and powers off", "stopped, powered off",
                fmt::format("{}, {}", stopped ? "stopped" : "services not reported stopped",
                            off ? "powered off" : "still running"));
        stage.detail(fmt::format("{:.0f} s in QEMU", since()));
    } catch (...) {
        keep_console();
        throw;
    }
    keep_console();
    if (!opt.json.empty()) fs::write_file_atomic(opt.json, report_json(report).dump(2) + "\n");
    return report;
}

}  // namespace romimg::verify
