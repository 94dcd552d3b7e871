// `romimg jail`: template → trace → closure → jail tree + manifest, and optionally prove it by
// running the service from the jail (--verify).


#include <fmt/format.h>

#include "cli/cli.h"
#include "common/places.h"
#include "workdir/workdir.h"
#include "jail/stage.h"
#include "recipe/template.h"

namespace romimg::cli {

namespace {

const char* const usage =
    "usage: romimg jail SERVICE|TEMPLATE.toml [--out DIR] [--verify] [--work DIR]\n"
    "\n"
    "Traces the service (as `romimg trace SERVICE` does), computes what it needs (ELF libraries,\n"
    "interpreters, every symlink hop, NSS/DNS/timezone/CA basics, the template's includes) and\n"
    "writes a chroot jail holding only that, with minimal /etc/passwd and /etc/group. Beside it:\n"
    "DIR.manifest.json and DIR.manifest.txt (every path, its package, why it is there; totals).\n"
    "\n"
    "options:\n"
    "  --out DIR     where the jail goes (default out/jails/SERVICE); replaced only if romimg made it\n"
    "  --verify      then run the service from the jail as the appliance will (init's own code: the\n"
    "                jail as a read-only nodev root, its devices bound in, its tmpfs areas, log FIFOs,\n"
    "                read-only /proc if asked, its user, capabilities, rlimits, no_new_privs and\n"
    "                environment, in fresh namespaces) and make the template's trace and verify\n"
    "                probes; exit 0 only if all pass, else say which failed and what the service\n"
    "                looked for in vain. Not reproduced on the host: romlock and the exec lock\n"
    "  --work DIR    scratch space and logs (default ./work)\n"
    "\n"
    "Needs root.\n";

int jail_main(const GlobalOptions&, const std::vector<std::string>& args) {
    std::string out, work = "work";
    bool verify = false;
    ArgParser p("jail", usage, args);
    p.option("--out", out);
    p.flag("--verify", verify);
    p.option("--work", work);
    auto pos = p.parse();
    if (pos.size() != 1) throw UsageError("romimg jail takes one SERVICE (or a path to a template)");

    recipe::ServiceTemplate t = recipe::load_template(pos[0]);
    if (out.empty()) out = "out/jails/" + t.name;
    std::filesystem::path dir = std::filesystem::absolute(out).lexically_normal();
    if (dir.filename().empty()) dir = dir.parent_path();
    if (std::string why = places::dangerous_dir(dir, workdir::protected_dirs()); !why.empty())
        throw UsageError(fmt::format("--out {}: refusing, it {}; give a directory of the jail's own", dir.string(), why));
    workdir::claim(work);
    jail::JailBuild built = jail::build_jail(t, dir, work);
    if (verify) jail::verify_jail(t, built, work);
    return 0;
}

}  // namespace

Subcommand jail_command() {
    return {"jail", "build a service's minimal chroot jail and manifest; --verify runs it from there", usage,
            jail_main};
}

}  // namespace romimg::cli
