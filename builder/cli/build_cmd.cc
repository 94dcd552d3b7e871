// `romimg build`: the whole pipeline.
#include <fmt/format.h>

#include "cli/cli.h"
#include "common/log.h"
#include "pipeline.h"

namespace romimg::cli {

namespace {

const char* const usage =
    "usage: romimg build [SERVICE...] [-o ISO] [OPTIONS]\n"
    "\n"
    "Traces and jails each service (default: apache tomcat), takes the romlock kernel from the\n"
    "cache (building it if needed), packs the read-only root and the initramfs, and writes a\n"
    "hybrid ISO that boots from CD/DVD or USB stick, BIOS or UEFI, straight into the services.\n"
    "\n"
    "options:\n"
    "  -o, --output ISO       where the ISO goes (default out/romimg.iso; replaced only when done)\n"
    "  --media cd|dvd         refuse an image that does not fit (700 MB / 4.7 GB)\n"
    "  --label LABEL          ISO volume label, how the appliance finds its medium (default ROMIMG)\n"
    "  --hostname NAME        the appliance's host name (default romimg)\n"
    "  --net dhcp|static:ADDR/PREFIX,GW[,DNS]   kernel IP autoconfiguration (default dhcp)\n"
    "  --log-to udp://ADDR:PORT   forward service logs and romlock refusals (RFC 5424)\n"
    "  --log-console          echo service logs on the console\n"
    "  --romlock-mode enforce|permissive   permissive only logs what it would refuse\n"
    "  --no-exec-lock         do not exec-lock the services (testing only)\n"
    "  --debug-shell          add a root shell on the console (busybox) for debugging; the image\n"
    "                         is then NOT tamper-proof, and says so at every boot\n"
    "  --content SERVICE:PATH=SOURCE   replace PATH in SERVICE's jail with SOURCE, a directory or\n"
    "                         a tar, tar.gz, tar.xz, zip or .war file (repeatable). Packed as its own\n"
    "                         squashfs layer, mounted read-only (nosuid,nodev,noexec) by init; the\n"
    "                         jail's own files under PATH are left out. PATH may not hide the\n"
    "                         service's program, libraries, devices or writable areas.\n"
    "  --retrace              trace the services again, with their content in place (when new\n"
    "                         content needs files the jail lacks), instead of using the base cache\n"
    "  --fast                 zstd instead of xz for the root filesystem (bigger, faster to build)\n"
    "  --jobs N               kernel build parallelism when the kernel is not cached\n"
    "  --work DIR             scratch space and logs (default ./work)\n"
    "\n"
    "Caching: the kernel, the base layer (jails + root squashfs, keyed by a hash of templates,\n"
    "options, romimg, romimg-init, overlays/, the dpkg status and a stamp of every host file the\n"
    "jails copied) and each content layer (by a hash of its files) are kept in $ROMIMG_CACHE or\n"
    "~/.cache/romimg (kernel/, base/, content/: each may be removed at any time). A content-only\n"
    "change re-packs that layer and the ISO; with nothing changed the ISO is left as it is.\n"
    "\n"
    "Needs root.\n";

int build_main(const GlobalOptions&, const std::vector<std::string>& args) {
    pipeline::BuildOptions o;
    std::string output, work;
    bool no_exec_lock = false;
    ArgParser p("build", usage, args);
    p.option("-o", output);
    p.option("--output", output);
    p.option("--media", o.media);
    p.option("--label", o.label);
    p.option("--hostname", o.hostname);
    p.option("--net", o.net);
    p.option("--log-to", o.log_to);
    p.flag("--log-console", o.log_console);
    p.option("--romlock-mode", o.romlock_mode);
    p.flag("--no-exec-lock", no_exec_lock);
    p.flag("--fast", o.fast);
    p.repeated("--content", o.content);
    p.flag("--retrace", o.retrace);
    p.flag("--debug-shell", o.debug_shell);
    p.option("--jobs", o.jobs);
    p.option("--work", work);
    auto services = p.parse();
    if (!services.empty()) o.services = services;
    if (!output.empty()) o.output = output;
    if (!work.empty()) o.work = work;
    o.exec_lock = !no_exec_lock;
    pipeline::BuildResult r = pipeline::build_appliance(o);
    log::info("\n{} ({:.1f} MB){}", r.iso.string(), r.bytes / 1048576.0,
              r.iso_unchanged ? ", unchanged" : r.base_cached ? ", base layer from the cache" : "");
    log::info("services: {}", fmt::join(r.ports, ", "));
    for (const auto& m : r.manifests) log::info("manifest: {}", m);
    log::info("boot it:  romimg boot {} --forward 8080:80 --forward 8081:8080", r.iso.string());
    return 0;
}

}  // namespace

Subcommand build_command() {
    return {"build", "trace, jail and pack services into a bootable read-only appliance ISO", usage, build_main};
}

}  // namespace romimg::cli
