#include "java/runtime.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "closure/closure.h"
#include "common/command.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/strings.h"
#include "java/cds.h"

namespace romimg::java {

namespace sfs = std::filesystem;

std::string jdk_package_for(const std::string& home) {
    std::string name = sfs::path(home).filename().string();
    // java-17-openjdk-amd64
    if (name.rfind("java-", 0) != 0) return "";
    size_t dash = name.find('-', 5);
    if (dash == std::string::npos || name.compare(dash, 9, "-openjdk-") != 0) return "";
    std::string n = name.substr(5, dash - 5);
    if (n.empty() || n.find_first_not_of("0123456789") != std::string::npos) return "";
    return "openjdk-" + n + "-jdk-headless";
}

std::optional<Jdk> jdk_of(const std::string& argv0) {
    char buf[PATH_MAX];
    if (!realpath(argv0.c_str(), buf)) return std::nullopt;
    sfs::path exe(buf);
    if (exe.filename() != "java" || exe.parent_path().filename() != "bin") return std::nullopt;
    Jdk j;
    j.home = exe.parent_path().parent_path().string();
    std::string release;
    try {
        release = fs::read_file(j.home + "/release");
    } catch (const Error&) {
        return std::nullopt;
    }
    for (const auto& line : split(release, '\n', true))
        if (line.rfind("JAVA_VERSION=\"", 0) == 0 && line.back() == '"') j.version = line.substr(14, line.size() - 15);
    if (j.version.empty()) return std::nullopt;
    try {
        j.feature = std::stoi(j.version);
    } catch (const std::exception&) {
        return std::nullopt;
    }
    j.jdk_package = jdk_package_for(j.home);
    return j;
}

std::vector<std::pair<std::string, std::string>> choose_modules(
    const std::vector<std::pair<std::string, ModuleDecl>>& declared, size_t undeclared,
    const std::vector<std::string>& referenced, const std::vector<std::string>& template_modules,
    const std::set<std::string>& jmods, const sfs::path& template_file) {
    std::map<std::string, std::string> why;
    why["java.base"] = "every Java runtime";
    for (const auto& m : template_modules) {
        if (!jmods.count(m))
            throw ConfigError(template_file, 0,
                              fmt::format("java.modules: the JDK has no module '{}' (its jmods: {} modules; "
                                          "`java --list-modules` names them)", m, jmods.size()));
        why.emplace(m, "the template's java.modules");
    }
    for (const auto& [jar, d] : declared)
        for (const auto& r : d.requires_)
            if (!r.is_static && jmods.count(r.name)) why.emplace(r.name, fmt::format("required by {} ({})", d.name, jar));
    for (const auto& m : referenced)
        if (jmods.count(m))
            why.emplace(m, fmt::format("referenced by the classes of the {} jar{} without a module declaration (jdeps)",
                                       undeclared, undeclared == 1 ? "" : "s"));
    return {why.begin(), why.end()};
}

jail::JailPlan replace_runtime(jail::JailPlan plan, const std::string& home, const std::string& image_dir,
                               const std::vector<ImageEntry>& image, const std::string& why) {
    const std::string prefix = home + "/";
    std::set<std::string> had;
    std::vector<jail::JailNode> kept;
    jail::JailNode top;
    bool have_top = false;
    for (auto& n : plan.nodes) {
        if (n.path == home) {
            top = n;
            have_top = true;
        } else if (n.path.rfind(prefix, 0) == 0) {
            had.insert(n.path);
        } else {
            kept.push_back(std::move(n));
        }
    }
    if (!have_top) throw Error(fmt::format("internal: the jail plan has no {}", home));
    top.why = why;
    kept.push_back(top);
    for (const auto& e : image) {
        jail::JailNode n;
        n.path = prefix + e.rel;
        if (e.kind == ImageEntry::file && e.elf && !had.count(n.path)) continue;  // never loaded: left out
        n.kind = e.kind == ImageEntry::dir ? jail::JailNode::dir
                 : e.kind == ImageEntry::symlink ? jail::JailNode::symlink
                                                 : jail::JailNode::file;
        if (e.kind == ImageEntry::file) n.source = image_dir + "/" + e.rel;
        n.target = e.target;
        n.mode = e.mode;
        n.size = e.size;
        n.reason = closure::Reason::include;
        n.why = why;
        kept.push_back(std::move(n));
    }
    std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) { return a.path < b.path; });
    plan.nodes = std::move(kept);
    return plan;
}

namespace {

std::vector<ImageEntry> list_image(const sfs::path& dir) {
    std::vector<ImageEntry> out;
    for (auto it = sfs::recursive_directory_iterator(dir); it != sfs::recursive_directory_iterator(); ++it) {
        const sfs::path& p = it->path();
        struct stat st;
        if (lstat(p.c_str(), &st) != 0) throw SysError("lstat", p.string(), errno);
        ImageEntry e;
        e.rel = p.lexically_relative(dir).string();  // not relative(): it follows symlinks
        e.mode = st.st_mode & 07777;
        if (S_ISDIR(st.st_mode)) {
            e.kind = ImageEntry::dir;
        } else if (S_ISLNK(st.st_mode)) {
            e.kind = ImageEntry::symlink;
            e.target = sfs::read_symlink(p).string();
        } else if (S_ISREG(st.st_mode)) {
            e.size = st.st_size;
            e.elf = closure::elf::read_info(p.string()).is_elf;
        } else {
            throw Error(fmt::format("jlink made {}, which is not a file, directory or symlink", p.string()));
        }
        out.push_back(e);
    }
    std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.rel < b.rel; });
    return out;
}

std::string missing_jdk(const recipe::ServiceTemplate& t, const Jdk& jdk, const std::string& what) {
    std::string pkg = jdk.jdk_package.empty() ? "the JDK package of " + jdk.home : jdk.jdk_package;
    return fmt::format("{}: java.runtime = \"jlink\" links a runtime from the JDK's {}, and {} has none: install {} "
                       "(apt-get install {}; a build-host package, it does not go into the image), or set "
                       "java.runtime = \"distribution\" in {}",
                       t.name, what, jdk.home, pkg, jdk.jdk_package.empty() ? "..." : jdk.jdk_package, t.file.string());
}

}  // namespace

jail::JailPlan link_runtime(jail::JailPlan plan, const recipe::ServiceTemplate& t, const sfs::path& work,
                            const sfs::path& cds_cache) {
    auto stage = log::stage("java runtime " + t.name);
    const std::optional<Jdk> jdk = jdk_of(t.command.at(0));
    if (!jdk)
        throw Error(fmt::format("{}: java.runtime = \"jlink\" needs service.command[0] to be a JDK's bin/java (through "
                                "symlinks), and {} is not one (no bin/java with a release file beside it): point "
                                "the command at the java launcher, or set java.runtime = \"distribution\" in {}",
                                t.name, t.command[0], t.file.string()));
    const std::string jmods = jdk->home + "/jmods";
    const std::string jlink = jdk->home + "/bin/jlink", jdeps = jdk->home + "/bin/jdeps";
    if (access((jmods + "/java.base.jmod").c_str(), R_OK) != 0) throw Error(missing_jdk(t, *jdk, "jmods (jmods/*.jmod)"));
    if (access(jlink.c_str(), X_OK) != 0 || access(jdeps.c_str(), X_OK) != 0)
        throw Error(missing_jdk(t, *jdk, "jlink and jdeps (bin/jlink, bin/jdeps)"));
    std::set<std::string> available;
    std::vector<std::string> inputs = {jlink, jdeps};
    for (const auto& e : sfs::directory_iterator(jmods))
        if (e.path().extension() == ".jmod") {
            available.insert(e.path().stem().string());
            inputs.push_back(e.path().string());
        }

    // The service's jars (the files, not the symlinks to them), outside the runtime.
    std::set<std::string> jars;
    for (const auto& n : plan.nodes)
        if (n.kind == jail::JailNode::file && n.path.size() > 4 && n.path.compare(n.path.size() - 4, 4, ".jar") == 0 &&
            n.path.rfind(jdk->home + "/", 0) != 0)
            jars.insert(n.source);
    std::vector<std::pair<std::string, ModuleDecl>> declared;
    std::vector<std::string> undeclared;
    for (const auto& jar : jars) {
        try {
            if (auto d = jar_module(jar, jdk->feature)) declared.emplace_back(jar, *d);
            else undeclared.push_back(jar);
        } catch (const Error& e) {
            // A damaged jar the service ships does not stop the build; it cannot tell us anything.
            log::warn("{}: {} (left out of the module analysis)", t.name, e.what());
        }
    }
    const sfs::path logs = work / "logs";
    sfs::create_directories(logs);
    std::vector<std::string> referenced;
    if (!undeclared.empty()) {
        Command c;
        c.argv = {jdeps, "--print-module-deps", "--ignore-missing-deps", "--multi-release", std::to_string(jdk->feature)};
        c.argv.insert(c.argv.end(), undeclared.begin(), undeclared.end());
        c.log = logs / fmt::format("jdeps-{}.log", t.name);
        try {
            std::string out = run_capture(c);
            for (const auto& line : split(out, '\n', true))
                if (!line.empty()) referenced = split(line, ',', true);
            log::info("    {} of {} jars declare no module: jdeps read their classes ({})", undeclared.size(), jars.size(),
                      fmt::join(referenced, ","));
        } catch (const ToolError& e) {
            // What jdeps cannot analyse gets the whole Java SE platform: larger, never short.
            referenced = {"java.se"};
            log::warn("{}: jdeps could not read the {} jars without a module declaration (its output: {}): linking all "
                      "of Java SE (java.se) for them",
                      t.name, undeclared.size(), c.log.string());
        }
    }
    auto modules = choose_modules(declared, undeclared.size(), referenced, t.java.modules, available, t.file);
    std::vector<std::string> names;
    for (const auto& [m, why] : modules) names.push_back(m);

    const sfs::path out = work / "java" / t.name, tmp = work / "java" / (t.name + ".new");
    sfs::create_directories(out.parent_path());
    fs::remove_tree(tmp);
    Command c;
    c.argv = {jlink, "--module-path", jmods, "--add-modules", fmt::format("{}", fmt::join(names, ",")),
              // Not --strip-debug: on Linux that also runs objcopy over the native files, and a
              // staging root has no binutils; they are the jmods' own, as shipped.
              "--strip-java-debug-attributes", "--no-man-pages", "--no-header-files", "--output", tmp.string()};
    c.log = logs / fmt::format("jlink-{}.log", t.name);
    fs::write_file_atomic(c.log, "");
    run(c);
    fs::remove_tree(out);
    sfs::rename(tmp, out);
    jail::JavaRuntime rt;
    rt.home = jdk->home;
    rt.version = jdk->version;
    rt.jmods = jmods;
    rt.modules = modules;
    rt.image = out.string();
    rt.inputs = inputs;
    // The JDK's default list now (not jlink --generate-cds-archive: it refuses i386, whose JVM
    // calls its platform linux-unknown); cds = "service" replaces it after the run in the jail.
    if (t.java.cds != "off") rt.cds = share_classes(rt, fs::read_file(out / "lib/classlist"), "the JDK's default list", cds_cache, work, t.name);

    std::vector<ImageEntry> image = list_image(out);
    // jlink copies the native files from the jmods: the libraries they need must be those the
    // distribution's copies (whose closure the plan holds) need.
    for (const auto& e : image) {
        if (!e.elf) continue;
        std::string dist = jdk->home + "/" + e.rel;
        if (access(dist.c_str(), F_OK) != 0) continue;
        auto a = closure::elf::read_info(dist).needed, b = closure::elf::read_info((out / e.rel).string()).needed;
        if (a != b)
            throw Error(fmt::format("{}: jlink's {} needs {} but the installed {} needs {}: the jmods are not of the same "
                                    "JDK build (reinstall {} at the version of {})",
                                    t.name, e.rel, fmt::join(b, " "), dist, fmt::join(a, " "), jdk->jdk_package, jdk->home));
    }
    const std::string why = fmt::format("jlink'd runtime: {} modules of {}", modules.size(),
                                        jdk->jdk_package.empty() ? jmods : jdk->jdk_package);
    plan = replace_runtime(std::move(plan), jdk->home, out.string(), image, why);
    plan.java = rt;
    uint64_t bytes = 0;
    for (const auto& n : plan.nodes)
        if (n.kind == jail::JailNode::file && n.path.rfind(jdk->home + "/", 0) == 0) bytes += n.size;
    stage.detail(fmt::format("{} modules, {:.1f} MB ({})", modules.size(), bytes / 1048576.0, fmt::join(names, " ")));
    return plan;
}

}  // namespace romimg::java
