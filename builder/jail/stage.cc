#include "jail/stage.h"

#include <fcntl.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "closure/closure.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/strings.h"
#include "common/log.h"
#include "common/names.h"
#include "common/sys.h"
#include "dpkg/dpkg.h"
#include "java/cds.h"
#include "java/runtime.h"
#include "jail/accounts.h"
#include "jail/capabilities.h"
#include "jail/manifest.h"
#include "jail/properties.h"
#include "rootfs/rootfs.h"
#include "target/target.h"
#include "trace/request.h"
#include "trace/session.h"

namespace romimg::jail {

namespace {

// A [data] dir is the seed of the data disk, copied whole: a process that has a file in it open
// for writing (the host's own server) would change it under the copy, and the appliance would
// start from a torn state. Refused, naming the process.
void refuse_data_in_use(const recipe::ServiceTemplate& t) {
    if (t.data.paths.empty()) return;
    std::error_code ec;
    for (const auto& proc : std::filesystem::directory_iterator("/proc", ec)) {
        const std::string pid = proc.path().filename();
        if (pid.find_first_not_of("0123456789") != std::string::npos || pid == std::to_string(getpid())) continue;
        std::error_code fec;
        for (const auto& fd : std::filesystem::directory_iterator(proc.path() / "fd", fec)) {
            std::error_code lec;
            const std::string target = std::filesystem::read_symlink(fd.path(), lec).string();
            if (lec) continue;
            for (const auto& dir : t.data.paths) {
                if (target.rfind(dir + "/", 0) != 0) continue;
                std::string info;
                try {
                    info = fs::read_file(proc.path() / "fdinfo" / fd.path().filename());
                } catch (const std::exception&) {
                    continue;  // closed meanwhile
                }
                size_t at = info.find("flags:");
                if (at == std::string::npos || (strtoul(info.c_str() + at + 6, nullptr, 8) & O_ACCMODE) == O_RDONLY) continue;
                std::string comm;
                try {
                    comm = fs::read_file(proc.path() / "comm");
                    while (!comm.empty() && comm.back() == '\n') comm.pop_back();
                } catch (const std::exception&) {
                }
                throw Error(fmt::format("{}: {} ([data] of {}) is in use: {} (pid {}) has {} open for writing. Its "
                                        "content is copied whole as the data disk's seed: stop that service first "
                                        "(e.g. systemctl stop {}), then build",
                                        t.file.string(), dir, t.name, names::printable(comm), pid,
                                        names::printable(target), t.name));
            }
        }
    }
}

std::vector<std::string> library_path(const recipe::ServiceTemplate& t) {
    auto it = t.environment.find("LD_LIBRARY_PATH");
    return it == t.environment.end() ? std::vector<std::string>{} : split(it->second, ':', true);
}

}  // namespace

seccomp::Mode seccomp_mode_of(const recipe::ServiceTemplate& t, const std::optional<seccomp::Mode>& override_mode) {
    if (override_mode) return *override_mode;
    if (!t.seccomp.mode.empty()) return seccomp::parse_mode(t.seccomp.mode, t.file.string());
    return seccomp::Mode::enforce;
}

trace::TraceResult trace_service(const recipe::ServiceTemplate& t, const std::filesystem::path& work,
                                 const std::vector<std::pair<std::string, std::string>>& content_binds) {
    trace::TraceRequest req = trace::build_request(&t, {}, work);
    req.service.content_binds = content_binds;
    auto stage = log::stage("trace " + t.name);
    trace::TraceResult traced = trace::run_trace(req);
    if (std::string failed = trace::probe_failures(traced, req); !failed.empty()) throw Error(failed);
    stage.detail(fmt::format("{} paths, {} probes", traced.files.size(), traced.probes.size()));
    return traced;
}

namespace {
void run_linked(const recipe::ServiceTemplate& t, JailBuild& jail, const std::filesystem::path& work,
                const std::filesystem::path& cds_cache);
}  // namespace

JailBuild build_jail(const recipe::ServiceTemplate& t, const std::filesystem::path& dir,
                     const std::filesystem::path& work, const JailExtras& extras) {
    JailBuild result;
    result.dir = dir;
    refuse_data_in_use(t);
    for (const auto& cap : stripped_in_jail(t.capabilities))
        log::warn("{}: the template asks for {}, which romlock refuses to every process in a jail: {} will not "
                  "have it on the appliance (remove it from service.capabilities)",
                  t.file.string(), cap, t.name);
    JailAccounts accounts = jail_accounts(fs::read_file("/etc/passwd"), fs::read_file("/etc/group"),
                                                      t.user.empty() ? "root" : t.user, t.group);
    const trace::TraceResult traced = extras.traced ? *extras.traced : trace_service(t, work, extras.trace_binds);
    closure::FileSet files;
    seccomp::FilterPlan seccomp_plan;
    {
        auto stage = log::stage("closure");
        closure::ClosureOptions opt;
        opt.include = recipe::jail_includes(t);
        opt.exclude = t.exclude;
        opt.env_library_path = library_path(t);
        opt.keep_setuid = t.keep_setuid;
        opt.keep_file_caps = t.keep_file_caps;
        files = closure::compute_closure(traced, opt);
        for (const auto& f : files.findings)
            if (f.severity == "warning") log::warn("{}: {}", f.path, f.message);
        stage.detail(fmt::format("{} entries", files.entries.size()));
    }
    {
        auto stage = log::stage("seccomp " + t.name);
        seccomp::Mode mode = seccomp_mode_of(t, extras.seccomp_mode);
        seccomp::FilterPlan filter = seccomp::plan_filter(t.name, t.file, traced.syscalls, t.seccomp, mode, extras.seccomp_arch);
        if (mode != seccomp::Mode::off) (void)seccomp::compile_filter(filter);  // every name resolves, or stop now
        seccomp_plan = std::move(filter);
        stage.detail(mode == seccomp::Mode::off
                         ? std::string("off: the service may make every system call")
                         : fmt::format("{}: {} system calls allowed, {} killed, the rest ENOSYS", seccomp::to_string(mode),
                                       seccomp_plan.allow.size(), seccomp_plan.kill.size()));
    }
    {
        auto stage = log::stage("jail " + dir.string());
        result.plan = plan_jail(files, t, accounts);
        if (extras.adjust_plan) result.plan = extras.adjust_plan(std::move(result.plan));
        result.plan = apply_property_edits(std::move(result.plan), t.properties, t.file);
        if (t.java.runtime == "jlink" && extras.run_target) result.plan = java::link_runtime(std::move(result.plan), t, work, extras.cds_cache);
        else if (t.java.runtime == "jlink")
            log::warn("{}: java.runtime = \"jlink\" runs the target's JDK tools, and this host cannot run the "
                      "target's programs (the translated trace route): {} keeps the distribution's Java runtime",
                      t.file.string(), t.name);
        result.plan.start_execs = start_execs(traced, result.plan, &result.plan.findings);
        result.plan.seccomp = seccomp_plan;
        result.bytes = apply_jail(result.plan, dir);
        stage.detail(fmt::format("{} entries, {:.1f} MB", result.plan.nodes.size(), result.bytes / 1048576.0));
    }
    if (result.plan.java) run_linked(t, result, work, extras.cds_cache);
    {
        auto stage = log::stage("manifest");
        dpkg::Database db = dpkg::Database::load();
        nlohmann::json m = manifest_json(result.plan, db, t.packages);
        std::string base = dir.string();
        fs::write_file_atomic(base + ".manifest.json", m.dump(1) + "\n");
        fs::write_file_atomic(base + ".manifest.txt", manifest_table(m));
        result.manifest = base + ".manifest.json";
        stage.detail(fmt::format("{}.manifest.{{json,txt}}", base));
        std::string table = manifest_table(m);
        log::info("{}", table.substr(0, table.find('\n')));
        for (const auto& f : result.plan.findings)
            if (f.severity == "secret") log::warn("{}: {}", f.path, f.message);
    }
    return result;
}

namespace {

// A run of the service from its jail, confined as init will confine it on the appliance (docs/jails.md
// lists what the host cannot reproduce: romlock, the exec lock, the appliance's kernel), with its
// trace and verify probes.
trace::TraceRequest jail_run_request(const recipe::ServiceTemplate& t, const JailBuild& jail,
                                     const std::filesystem::path& work, const std::string& what) {
    trace::TraceRequest vreq = trace::build_request(&t, {}, work);
    vreq.name = t.name + "-" + what;
    vreq.log = vreq.work / "logs" / fmt::format("{}-{}.log", what, t.name);
    vreq.service.jail_root = jail.dir.string();
    vreq.service.confinement = rootfs::service_entry(t, jail.plan, t.exec_lock, "/");
    vreq.service.writable.clear();
    vreq.service.logs.clear();
    vreq.service.proc = t.proc;
    // The filter is loaded by this program before it execs the service, so it must allow this
    // program's own arch: an i386 filter kills the amd64 execve. (The appliance's init is built
    // for the target; the e2e boots prove the filter there.)
    const std::string& host_arch = target::host_target().seccomp_arch;
    if (jail.plan.seccomp.mode != seccomp::Mode::off && jail.plan.seccomp.arch == host_arch)
        vreq.service.seccomp_bpf = seccomp::compile_filter(jail.plan.seccomp);
    else if (jail.plan.seccomp.mode != seccomp::Mode::off)
        log::info("    {}: its {} seccomp filter is not loaded for this run on the {} build host (the appliance loads it)",
                  t.name, jail.plan.seccomp.arch, host_arch);
    for (const auto& s : t.verify_probes) vreq.probes.push_back(trace::parse_probe(s));
    return vreq;
}

// [java] runtime = "jlink": the service run from its jail on the linked runtime, with every
// probe (a module jlink left out fails here, at build time, not on the appliance), the JVM
// writing the classes it loads; with cds = "service" they go into the runtime's CDS archive,
// which replaces jlink's in the jail.
void run_linked(const recipe::ServiceTemplate& t, JailBuild& jail, const std::filesystem::path& work,
                const std::filesystem::path& cds_cache) {
    jail::JavaRuntime& rt = *jail.plan.java;
    auto stage = log::stage("run " + t.name + " on its jlink'd runtime");
    trace::TraceRequest req = jail_run_request(t, jail, work, "linked");
    const bool collect = t.java.cds == "service";
    const std::filesystem::path list = work / "java" / (t.name + ".classlist");
    Fd out;
    if (collect) {
        // In the first writable dir of the jail (template_checks: cds = "service" has one).
        req.service.collect_path = t.writable.at(0).path + "/romimg-loaded-classes.lst";
        req.service.argv.insert(req.service.argv.begin() + 1, "-XX:DumpLoadedClassList=" + req.service.collect_path);
        req.service.confinement->argv = req.service.argv;
        out = sys::open(list, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        req.service.collect_fd = out.get();
    }
    std::vector<std::string> names;
    for (const auto& [m, why] : rt.modules) names.push_back(m);
    trace::TraceResult r;
    try {
        r = trace::run_trace(req);
    } catch (const Error& e) {
        throw Error(fmt::format("{} does not run on its jlink'd runtime ({}):\n{}", t.name, fmt::join(names, " "), e.what()));
    }
    if (std::string failed = trace::probe_failures(r, req); !failed.empty())
        throw Error(fmt::format("{} does not work on its jlink'd runtime (modules: {}):\n{}\n  If its output names a "
                                "class of the JDK it could not find (NoClassDefFoundError, ClassNotFoundException), add "
                                "that class's module to java.modules in {}; or set java.runtime = \"distribution\"",
                                t.name, fmt::join(names, " "), failed, t.file.string()));
    int ok = 0;
    for (const auto& pr : r.probes) ok += pr.ok;
    stage.detail(fmt::format("{}/{} probes passed", ok, r.probes.size()));
    if (!collect) return;
    out.reset();
    if (r.collected <= 0)
        throw Error(fmt::format("{}: the JVM wrote no list of the classes it loaded ({}): java.cds = \"service\" needs "
                                "one (its output: {}); or set java.cds = \"default\"",
                                t.name, r.collect_error.empty() ? "an empty file" : r.collect_error, req.log.string()));
    const std::string dump = java::dump_list(fs::read_file(rt.image + "/lib/classlist"), fs::read_file(list));
    rt.cds = java::share_classes(rt, dump, "the JDK's default list and those " + t.name + " loaded in its jail", cds_cache,
                                 work, t.name);
    // Into the jail, over jlink's archive, and into the plan (its size).
    const std::string rel = rt.home + "/lib/server/classes.jsa";
    const std::string archive = rt.image + "/lib/server/classes.jsa";
    fs::write_file_atomic(jail.dir.string() + rel, fs::read_file(archive), 0444);
    for (auto& n : jail.plan.nodes)
        if (n.path == rel) {
            n.size = std::filesystem::file_size(archive);
            n.mode = 0444;
        }
}

}  // namespace

void verify_jail(const recipe::ServiceTemplate& t, const JailBuild& jail, const std::filesystem::path& work) {
    const std::filesystem::path& dir = jail.dir;
    auto stage = log::stage("verify " + t.name + " in its jail");
    trace::TraceRequest vreq = jail_run_request(t, jail, work, "verify");
    trace::TraceResult vr;
    try {
        vr = trace::run_trace(vreq);
    } catch (const Error& e) {
        throw Error(fmt::format("{} does not run from its jail {}:\n{}", t.name, dir.string(), e.what()));
    }
    if (std::string failed = trace::probe_failures(vr, vreq); !failed.empty())
        throw Error(fmt::format("{} does not work from its jail {}:\n{}", t.name, dir.string(), failed));
    int ok = 0;
    for (const auto& pr : vr.probes) ok += pr.ok;
    stage.detail(fmt::format("{}/{} probes passed ({} trace, {} verify)", ok, vr.probes.size(), t.trace_probes.size(),
                             t.verify_probes.size()));
}

}  // namespace romimg::jail
