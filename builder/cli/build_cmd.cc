// `romimg build`: the whole pipeline.
#include <cerrno>
#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "cli/build_options.h"
#include "cli/cli.h"
#include "common/log.h"
#include "common/names.h"
#include "pipeline.h"

namespace romimg::cli {

namespace {

const char* const usage =
    "usage: romimg build [SERVICE...] [-c romimg.toml] [-o ISO] [OPTIONS]\n"
    "\n"
    "Traces and jails each service (default: apache tomcat), takes the romlock kernel from the\n"
    "cache (building it if needed), packs the read-only root and the initramfs, and writes a\n"
    "hybrid ISO that boots from CD/DVD or USB stick, BIOS or UEFI, straight into the services.\n"
    "\n"
    "Settings come from the appliance config (./romimg.toml when there is one, or -c FILE; see\n"
    "romimg.toml.example), and the options below override it. With neither, the defaults.\n"
    "\n"
    "options:\n"
    "  -c, --config FILE      the appliance config (default ./romimg.toml if present)\n"
    "  --no-config            ignore ./romimg.toml\n"
    "  -o, --output ISO       where the ISO goes (default out/romimg.iso; replaced only when done)\n"
    "  --media cd|dvd         refuse an image that does not fit (700 MB / 4.7 GB)\n"
    "  --label LABEL          ISO volume label, how the appliance finds its medium (default ROMIMG)\n"
    "  --hostname NAME        the appliance's host name (default romimg)\n"
    "  --net dhcp|static:ADDR/PREFIX,GW[,DNS]   kernel IP autoconfiguration (default dhcp)\n"
    "  --log-to udp://ADDR:PORT   forward service logs and romlock refusals (RFC 5424)\n"
    "  --log-console          echo service logs on the console\n"
    "  --romlock-mode enforce|permissive   permissive only logs what it would refuse\n"
    "  --arch amd64|i386      the machine the image is for (default: this host's). i386: 32-bit\n"
    "                         x86 servers (i686 without SSE2, e.g. a PowerEdge 1550), BIOS only;\n"
    "                         built from an i386 root (--root, or one romimg makes and caches)\n"
    "  --root DIR             build from the configured server tree at DIR instead of / (trace,\n"
    "                         libraries, the dpkg database, accounts: DIR is never written)\n"
    "  --trace-route auto|native|translated   for another arch: trace its own programs on this\n"
    "                         host (native: IA32 emulation), or trace this host's own services and\n"
    "                         carry what they used over into the root by path and package\n"
    "                         (translated). auto (default): native where this host runs them\n"
    "  --staging-route auto|native|qemu-user   for another arch without --root: how the staging\n"
    "                         root's package scripts run: on this host (native), or under\n"
    "                         qemu-user in a namespace of romimg's own (qemu-user: Linux 6.7+,\n"
    "                         qemu-user-static; the host's binfmt_misc is not touched, several\n"
    "                         times slower). auto (default): native where this host runs them\n"
    "  --no-exec-lock         do not exec-lock the services (testing only)\n"
    "  --seccomp [SERVICE=]enforce|log|off   each service's seccomp filter (from its trace): enforce\n"
    "                         (default: unlisted calls fail with ENOSYS, the never-list kills), log\n"
    "                         (refuse nothing, report what enforce would refuse), off (repeatable;\n"
    "                         without SERVICE= for every service)\n"
    "  --debug-shell          add a root shell on the console (busybox) for debugging; the image\n"
    "                         is then NOT tamper-proof, and says so at every boot\n"
    "  --content SERVICE:PATH=SOURCE   replace PATH in SERVICE's jail with SOURCE, a directory or\n"
    "                         a tar, tar.gz, tar.xz, zip or .war file (repeatable). Packed as its own\n"
    "                         squashfs layer, mounted read-only (nosuid,nodev,noexec) by init; the\n"
    "                         jail's own files under PATH are left out. PATH may not hide the\n"
    "                         service's program, libraries, devices or writable areas. Refused:\n"
    "                         host secrets by the jails' rule (shadow, SSH host keys, sudoers,\n"
    "                         root's files), PEM private keys, files not world-readable in SOURCE\n"
    "                         (a 0600 file would become readable to all), an empty SOURCE, one\n"
    "                         that contains the work dir or lies in it. A SOURCE symlink is\n"
    "                         followed.\n"
    "  --content-allow-private   ship private keys and files that are not world-readable in\n"
    "                         SOURCE, root-owned with their own owner/group bits (never widened):\n"
    "                         only a service running as root can then read them\n"
    "  --retrace              trace the services again, with their content in place (when new\n"
    "                         content needs files the jail lacks), instead of using the base cache\n"
    "  --fast                 zstd instead of xz for the root filesystem (bigger, faster to build)\n"
    "  --verity-fec N         Reed-Solomon parity bytes per 255 in each layer's dm-verity tree:\n"
    "                         2 (default: any one bad 4 KiB block in 253 is repaired, +0.8 %),\n"
    "                         up to 24, or 0 for none. Every layer is verified either way.\n"
    "  --sign-key KEY.pem --sign-cert CERT.pem   signed boot (amd64): the UEFI path boots one\n"
    "                         unified kernel image (kernel, initramfs, command line) signed with\n"
    "                         KEY, and each content layer's root hash is signed too; enroll CERT\n"
    "                         in the firmware's db (`romimg boot --secure-boot --sign-cert` does,\n"
    "                         in QEMU). The key: unencrypted RSA in PEM. docs/verity.md\n"
    "  --jobs N               kernel build parallelism when the kernel is not cached\n"
    "  --kernel-config-dir DIR   build the kernel from DIR instead of the source's kernel-config/\n"
    "                         (same layout: common.config + x86_64.config, romlock/, patches/;\n"
    "                         for comparing kernel configurations, see bench/kernel-hardening)\n"
    "  --no-hardening-cmdline   leave the kernel hardening parameters (slab_nomerge, init_on_free=1,\n"
    "                         ...) off the command line (benchmarking only; `romimg verify` fails it)\n"
    "  --no-verity            no dm-verity (benchmarking only, see bench/verity): layers are mounted\n"
    "                         unchecked, init says so at every boot, `romimg verify` fails the image\n"
    "  --work DIR             scratch space and logs (default ./work)\n"
    "  --source-date-epoch N  the time stamped on every file of the image (default:\n"
    "                         $SOURCE_DATE_EPOCH, else the newest input's mtime)\n"
    "\n"
    "Caching: the kernel, the base layer (jails + root squashfs, keyed by a hash of templates,\n"
    "options, romimg, romimg-init, overlays/, the dpkg status, a stamp of every host file the\n"
    "jails copied and of what each include glob matches) and each content layer (by a hash of its files) are kept in $ROMIMG_CACHE or\n"
    "~/.cache/romimg (kernel/, base/, content/: each may be removed at any time). A content-only\n"
    "change re-packs that layer and the ISO; with nothing changed the ISO is left as it is.\n"
    "\n"
    "Needs root.\n";

int64_t parse_epoch(const std::string& s) {
    char* end = nullptr;
    errno = 0;
    long long v = strtoll(s.c_str(), &end, 10);
    if (s.empty() || *end || errno || v < 0)
        throw UsageError("--source-date-epoch takes seconds since 1970, got '" + s + "'");
    return v;
}

}  // namespace

pipeline::BuildOptions build_options(const BuildFlags& f, const std::filesystem::path& cwd) {
    pipeline::BuildOptions o;
    if (f.no_config && !f.config.empty()) throw UsageError("-c and --no-config contradict each other");
    std::optional<std::filesystem::path> given;
    if (!f.config.empty()) given = std::filesystem::path(f.config);
    if (!f.no_config)
        if (auto file = recipe::find_config(given, cwd)) {
            pipeline::apply_config(recipe::load_config(*file), o);
            log::info("appliance config: {}", file->string());
        }
    if (!f.services.empty()) o.services = f.services;
    auto set = [](std::string& target, const std::string& flag) {
        if (!flag.empty()) target = flag;
    };
    set(o.media, f.media);
    set(o.label, f.label);
    set(o.hostname, f.hostname);
    set(o.net, f.net);
    set(o.log_to, f.log_to);
    set(o.romlock_mode, f.romlock_mode);
    set(o.arch, f.arch);
    set(o.trace_route, f.trace_route);
    set(o.staging_route, f.staging_route);
    if (!f.root.empty()) o.root = f.root;
    if (!f.output.empty()) o.output = f.output;
    if (!f.work.empty()) o.work = f.work;
    if (!f.epoch.empty()) o.source_date_epoch = parse_epoch(f.epoch);
    o.log_console |= f.log_console;
    o.fast |= f.fast;
    o.debug_shell |= f.debug_shell;
    if (f.no_exec_lock) o.exec_lock = false;
    if (f.jobs < 0 || f.jobs > 4096) throw UsageError(fmt::format("--jobs must be 1 to 4096, got {}", f.jobs));
    if (f.jobs) o.jobs = f.jobs;
    if (!f.sign_key.empty()) o.sign_key = f.sign_key;
    if (!f.sign_cert.empty()) o.sign_cert = f.sign_cert;
    if (f.verity_fec != -1) {
        if (f.verity_fec != 0 && (f.verity_fec < 2 || f.verity_fec > 24))
            throw UsageError(fmt::format("--verity-fec takes 0 (no error correction) or 2 to 24 parity bytes, got {}", f.verity_fec));
        o.verity_fec_roots = (unsigned)f.verity_fec;
    }
    if (!f.kernel_config_dir.empty()) o.kernel_config_dir = f.kernel_config_dir;
    if (f.no_hardening_cmdline) o.hardening_cmdline = false;
    if (f.no_verity) o.verity = false;
    o.retrace |= f.retrace;
    o.content_allow_private |= f.content_allow_private;
    for (const auto& s : f.seccomp) {
        auto eq = s.find('=');
        std::string service = eq == std::string::npos ? "*" : s.substr(0, eq);
        std::string mode = eq == std::string::npos ? s : s.substr(eq + 1);
        if (mode != "enforce" && mode != "log" && mode != "off")
            throw UsageError(fmt::format("--seccomp takes [SERVICE=]enforce|log|off, got '{}'", names::printable(s)));
        if (service == "*") o.seccomp.clear();
        o.seccomp[service] = mode;
    }
    for (const auto& c : f.content) {
        // The same SERVICE:PATH from the command line replaces the config file's.
        const std::string where = c.substr(0, c.find('='));
        std::erase_if(o.content, [&](const std::string& x) { return x.substr(0, x.find('=')) == where; });
        o.content.push_back(c);
    }
    return o;
}

namespace {

int build_main(const GlobalOptions&, const std::vector<std::string>& args) {
    BuildFlags f;
    ArgParser p("build", usage, args);
    p.option("-c", f.config);
    p.option("--config", f.config);
    p.flag("--no-config", f.no_config);
    p.option("-o", f.output);
    p.option("--output", f.output);
    p.option("--media", f.media);
    p.option("--label", f.label);
    p.option("--hostname", f.hostname);
    p.option("--net", f.net);
    p.option("--log-to", f.log_to);
    p.flag("--log-console", f.log_console);
    p.option("--romlock-mode", f.romlock_mode);
    p.option("--arch", f.arch);
    p.option("--root", f.root);
    p.option("--trace-route", f.trace_route);
    p.option("--staging-route", f.staging_route);
    p.flag("--no-exec-lock", f.no_exec_lock);
    p.repeated("--seccomp", f.seccomp);
    p.flag("--fast", f.fast);
    p.option("--verity-fec", f.verity_fec);
    p.option("--sign-key", f.sign_key);
    p.option("--sign-cert", f.sign_cert);
    p.repeated("--content", f.content);
    p.flag("--retrace", f.retrace);
    p.flag("--content-allow-private", f.content_allow_private);
    p.flag("--debug-shell", f.debug_shell);
    p.option("--jobs", f.jobs);
    p.option("--kernel-config-dir", f.kernel_config_dir);
    p.flag("--no-hardening-cmdline", f.no_hardening_cmdline);
    p.flag("--no-verity", f.no_verity);
    p.option("--work", f.work);
    p.option("--source-date-epoch", f.epoch);
    f.services = p.parse();
    pipeline::BuildOptions o = build_options(f, std::filesystem::current_path());
    pipeline::BuildResult r = pipeline::build_appliance(o);
    log::info("\n{} ({:.1f} MB){}", r.iso.string(), r.bytes / 1048576.0,
              r.iso_unchanged ? ", unchanged" : r.base_cached ? ", base layer from the cache" : "");
    log::info("services: {}", fmt::join(r.ports, ", "));
    for (const auto& m : r.manifests) log::info("manifest: {}", m);
    // One host port per service port: what this image listens on, nothing else. A port from
    // 1024 up is forwarded from the same port (a client's default: mariadb's 3306); one below
    // (which would need root on the host) from 8080 up.
    std::string forwards;
    std::vector<int> service_ports, used;
    for (const auto& p : r.ports) service_ports.push_back(std::stoi(p.substr(p.rfind(':') + 1)));
    for (int port : service_ports)
        if (port >= 1024) used.push_back(port);
    int next = 8080;
    for (int port : service_ports) {
        int host = port;
        if (port < 1024) {
            while (std::find(used.begin(), used.end(), next) != used.end()) ++next;
            host = next;
            used.push_back(next);
        }
        forwards += fmt::format(" --forward {}:{}", host, port);
    }
    if (!r.data.empty()) {
        // Its services keep state: without a data disk they do not start (or run on a tmpfs).
        log::info("its data disk ({}): romimg data-disk data.img --size 1g", fmt::join(r.data, ", "));
        forwards += " --data data.img";
    }
    log::info("boot it:  romimg boot {}{}", r.iso.string(), forwards);
    return 0;
}

}  // namespace

Subcommand build_command() {
    return {"build", "trace, jail and pack services into a bootable read-only appliance ISO", usage, build_main};
}

}  // namespace romimg::cli
