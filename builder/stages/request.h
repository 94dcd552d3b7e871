// The build's request: everything a build is made from, checked before minutes of work (every
// usage error a build can find without tracing is found here).
// Input: BuildOptions. Output: Request. Side effects: claims the work dir (workdir::claim).
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "content/content.h"
#include "content/pack.h"
#include "iso/iso.h"
#include "pipeline.h"
#include "recipe/template.h"
#include "sign/sign.h"
#include "staging/translate.h"
#include "target/target.h"

namespace romimg::pipeline {

struct Request {
    const target::Target* tgt = nullptr;
    std::string cmdline;
    iso::Media media = iso::Media::any;
    std::optional<int64_t> given;  // SOURCE_DATE_EPOCH, if given
    std::filesystem::path init;
    std::filesystem::path e2fsck;  // a static e2fsck for the data disk ("" = no service has [data])
    std::vector<recipe::ServiceTemplate> templates;
    std::vector<content::ContentSpec> contents;
    std::filesystem::path work, cache_dir;
    // For another arch: how its services are traced here, and why not natively.
    staging::TraceRoute route = staging::TraceRoute::native;
    std::string route_why;
    std::optional<sign::Signer> signer;  // --sign-key/--sign-cert, checked
};

Request check_request(const BuildOptions& opt);

// For another arch: which way its services are traced, and why (one line).
void log_route(const Request& r);

// The loaded template named `name` (Error if the request has none).
const recipe::ServiceTemplate& template_of(const std::vector<recipe::ServiceTemplate>& ts, const std::string& name);

// The kernel's config directory: --kernel-config-dir, else the source's kernel-config/.
std::filesystem::path kernel_config_dir(const BuildOptions& opt);
// The files laid into every image's root (the source's overlays/).
std::filesystem::path overlays_dir();

}  // namespace romimg::pipeline
