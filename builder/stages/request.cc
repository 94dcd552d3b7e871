// The build's request, checked: target, options, places, templates, content (request.h).
#include "stages/request.h"

#include <elf.h>
#include <sys/stat.h>
#include <algorithm>
#include <cctype>
#include <cstdlib>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.h"
#include "common/log.h"
#include "common/names.h"
#include "common/places.h"
#include "common/strings.h"
#include "image/image_info.h"
#include "install/layout.h"
#include "kernel/kernel.h"
#include "plans.h"
#include "recipe/appliance_config.h"
#include "seccomp/filter.h"
#include "stages/epoch.h"
#include "staging/staging.h"
#include "workdir/workdir.h"

namespace romimg::pipeline {

std::filesystem::path kernel_config_dir(const BuildOptions& opt) {
    if (!opt.kernel_config_dir.empty()) return std::filesystem::absolute(opt.kernel_config_dir);
    return install::kernel_config_dir();
}

std::filesystem::path overlays_dir() { return install::overlays_dir(); }

const recipe::ServiceTemplate& template_of(const std::vector<recipe::ServiceTemplate>& ts, const std::string& name) {
    for (const auto& t : ts)
        if (t.name == name) return t;
    throw Error("no template loaded for " + name);
}

void log_route(const Request& r) {
    if (r.tgt->name == target::host_target().name) return;
    if (r.route == staging::TraceRoute::native)
        log::info("==> trace: native: the {} programs run on this host (IA32 emulation) and are traced as they are",
                  r.tgt->name);
    else
        log::info("==> trace: translated: {}; each service is traced as this host's {} build and what it used is "
                  "carried over into the {} root by path and package (work/logs/translate-*.txt)",
                  r.route_why, target::host_target().name, r.tgt->name);
}

namespace {

// The target's static romimg-init (built beside the host's); $ROMIMG_INIT (amd64) or
// $ROMIMG_INIT_I386 point elsewhere.
std::filesystem::path init_binary(const target::Target& t) {
    std::string env = "ROMIMG_INIT";
    if (t.name != "amd64")
        for (char c : "_" + t.name) env += (char)toupper((unsigned char)c);
    if (const char* e = getenv(env.c_str()); e && *e) return e;
    return install::program(t.init);
}

// The output and the work dir, before any work: an ISO that cannot be written must not cost a
// build, and romimg replaces subdirectories of its work dir, so that must be its own.
void check_places(const BuildOptions& opt) {
    places::check_output_file(opt.output, "-o");
    if (std::filesystem::exists(opt.output)) {
        try {
            image::iso_volume_label(opt.output);
        } catch (const Error&) {
            throw UsageError(fmt::format("-o {} exists and is not an ISO image: romimg replaces only ISOs; choose another "
                                         "-o, or remove the file",
                                         opt.output.string()));
        }
    }
    if (std::string why = places::dangerous_dir(opt.work, workdir::protected_dirs()); !why.empty())
        throw UsageError(fmt::format("--work {}: refusing, it {}; give a new or empty directory of its own",
                                     opt.work.string(), why));
}

// --staging-route is a valid choice, and one for a build that makes a staging root.
void check_staging_route(const BuildOptions& opt, const target::Target& tgt) {
    if (!staging::parse_root_maker(opt.staging_route, "--staging-route")) return;
    if (tgt.name == target::host_target().name)
        throw UsageError(fmt::format("--staging-route {}: the image is for this host's own arch ({}), built from its own "
                                     "root; no staging root is made",
                                     opt.staging_route, tgt.name));
    if (!opt.root.empty())
        throw UsageError(fmt::format("--staging-route {}: --root {} is the root; no staging root is made (leave one of "
                                     "them out)",
                                     opt.staging_route, opt.root.string()));
}

// The target and the options that depend on it (route, debug shell, staging route, --root).
const target::Target& check_target(const BuildOptions& opt, Request& r) {
    const target::Target& tgt = opt.arch.empty() ? target::host_target() : target::target_named(opt.arch);
    r.route = staging::choose_route(tgt, staging::parse_route(opt.trace_route, "--trace-route"), r.route_why);
    if (opt.debug_shell && tgt.name != target::host_target().name)
        throw UsageError(fmt::format("--debug-shell takes this host's busybox, which an {} image cannot run: build the "
                                     "debug image for {}, or leave --debug-shell out",
                                     tgt.name, target::host_target().name));
    check_staging_route(opt, tgt);
    if (!opt.root.empty()) staging::check_root(opt.root, tgt, "--root");
    return tgt;
}

// The services named once each, and every --seccomp override for one of them.
void check_services(const BuildOptions& opt) {
    if (opt.services.empty()) throw UsageError("romimg build needs at least one service");
    for (size_t i = 0; i < opt.services.size(); ++i)
        for (size_t k = 0; k < i; ++k)
            if (opt.services[k] == opt.services[i])
                throw UsageError(fmt::format("service {} is named twice: each service is built once, name it once",
                                             names::printable(opt.services[i])));
    for (const auto& [service, mode] : opt.seccomp) {
        seccomp::parse_mode(mode, "--seccomp " + names::printable(service));
        if (service != "*" && std::find(opt.services.begin(), opt.services.end(), service) == opt.services.end())
            throw UsageError(fmt::format("--seccomp {}={}: {} is not one of the services being built ({})",
                                         names::printable(service), mode, names::printable(service),
                                         fmt::join(opt.services, ", ")));
    }
}

// Each service's template, loaded and checked; two names for one service, and two services on
// one port (the second could never bind it on the appliance), are refused.
std::vector<recipe::ServiceTemplate> load_templates(const BuildOptions& opt) {
    std::vector<recipe::ServiceTemplate> templates;
    for (const auto& s : opt.services) {
        templates.push_back(recipe::load_template(s));
        const recipe::ServiceTemplate& t = templates.back();
        for (size_t k = 0; k + 1 < templates.size(); ++k) {
            if (templates[k].name == t.name)
                throw UsageError(fmt::format("{} and {} are both the service {}: name each service once", opt.services[k], s,
                                             t.name));
            for (int port : t.ports)
                if (std::find(templates[k].ports.begin(), templates[k].ports.end(), port) != templates[k].ports.end())
                    throw UsageError(fmt::format(
                        "{} and {} both listen on port {} (service.ports in {} and {}): build them into separate "
                        "images, or give one a template of its own (a copy on the template path) with another port "
                        "and a site configuration that listens there",
                        templates[k].name, t.name, port, templates[k].file.string(), t.file.string()));
        }
    }
    return templates;
}

// A service with [data] paths needs init to check the data disk before it mounts it: a static
// e2fsck goes into the image's root (outside every jail). "" when no service has any.
std::filesystem::path data_disk_checker(const std::vector<recipe::ServiceTemplate>& templates, const target::Target& tgt) {
    auto it = std::find_if(templates.begin(), templates.end(), [](const auto& t) { return !t.data.paths.empty(); });
    if (it == templates.end()) return {};
    const recipe::ServiceTemplate* user = &*it;
    if (tgt.name != target::host_target().name)
        throw UsageError(fmt::format("{}: [data] on a {} image is not built yet (its static e2fsck would have to come from "
                                     "the {} staging root); build it for {}, or without [data] paths",
                                     user->file.string(), tgt.name, tgt.name, target::host_target().name));
    const std::filesystem::path e2fsck = "/sbin/e2fsck.static";
    if (!std::filesystem::exists(e2fsck))
        throw Error(fmt::format("{} has [data] paths: the image needs a static e2fsck to check its data disk, and {} is "
                                "missing: apt-get install e2fsck-static (or `make deps`)",
                                user->file.string(), e2fsck.string()));
    return e2fsck;
}

// The --content specs, each checked against its service's template and its source (and, with
// --retrace, against this host's directories), none of them inside the work dir.
std::vector<content::ContentSpec> check_contents(const BuildOptions& opt, const std::vector<recipe::ServiceTemplate>& templates,
                                                 const std::filesystem::path& work) {
    std::vector<content::ContentSpec> contents;
    for (const auto& a : opt.content) contents.push_back(content::parse_content_arg(a));
    content::check_specs(contents, opt.services);
    for (const auto& c : contents) {
        content::check_against_template(c, template_of(templates, c.service));
        content::check_source(c);
        if (opt.retrace) {
            // The trace binds the content over PATH in its overlay view of the host; a symlink on
            // the way there would be followed outside the sandbox.
            std::string cur;
            for (const auto& part : split(c.path, '/', true)) {
                cur += "/" + part;
                struct stat st;
                if (lstat(cur.c_str(), &st) == 0 && !S_ISDIR(st.st_mode))
                    content::reject(c, "--retrace: " + cur + " is not a directory on this host",
                                    "give the PATH the service really uses, without symlinks");
            }
        }
    }
    for (const auto& c : contents) content::check_source_outside(c, work);
    return contents;
}

}  // namespace

Request check_request(const BuildOptions& opt) {
    Request r;
    const target::Target& tgt = check_target(opt, r);
    r.tgt = &tgt;
    r.cmdline = kernel_cmdline(opt, tgt.kernel_arch);
    iso::validate_label(opt.label);
    r.media = iso::parse_media(opt.media);
    if (!opt.log_to.empty() && !recipe::log_to_problem(opt.log_to).empty())
        throw UsageError("--log-to " + recipe::log_to_problem(opt.log_to));
    if (!recipe::hostname_problem(opt.hostname).empty())
        throw UsageError("--hostname " + recipe::hostname_problem(opt.hostname));
    check_services(opt);
    check_places(opt);
    r.given = given_epoch(opt);  // a bad value is refused now
    if (opt.sign_key.empty() != opt.sign_cert.empty())
        throw UsageError(opt.sign_key.empty() ? "--sign-cert needs --sign-key (the key that signs)"
                                              : "--sign-key needs --sign-cert (the certificate the firmware trusts)");
    if (!opt.sign_key.empty() && !opt.verity)
        throw UsageError("--sign-key with --no-verity: a signed kernel image would vouch for layers nothing checks");
    if (!opt.sign_key.empty()) {
        if (!tgt.uefi)
            throw UsageError(fmt::format("--sign-key: {} images boot through the BIOS only, which checks no signature; "
                                         "build without --sign-key (verity still checks every layer)",
                                         tgt.name));
        r.signer = sign::load_signer(opt.sign_key, opt.sign_cert);
    }
    r.init = init_binary(tgt);
    if (!std::filesystem::exists(r.init))
        throw Error(fmt::format("{}{}", install::missing_program(tgt.init, r.init),
                                tgt.elf_class == ELFCLASS32 ? " (the 32-bit init needs g++-multilib: `make deps`)" : ""));
    r.templates = load_templates(opt);
    r.e2fsck = data_disk_checker(r.templates, tgt);
    r.work = std::filesystem::absolute(opt.work);
    r.contents = check_contents(opt, r.templates, r.work);
    r.cache_dir = kernel::resolve_cache_dir(std::nullopt, getenv("ROMIMG_CACHE"), getenv("HOME"));
    workdir::check_cache(r.cache_dir, getenv("ROMIMG_CACHE") && *getenv("ROMIMG_CACHE") ? "$ROMIMG_CACHE" : "$HOME/.cache/romimg");
    workdir::claim(r.work);
    return r;
}

}  // namespace romimg::pipeline
