// The kernel stage: unpack, add romlock, patch, configure (allnoconfig + fragments), verify the
// configuration, make bzImage, and publish <cache>/kernel/<key>/ with one rename.
//
// The unpacked tree is deleted after the build: the key already covers every input, so a
// changed input means a different tree anyway, and an incremental build in a reused tree
// would make the cached bzImage depend on what happened to be in that tree before. A cold
// build is a few minutes; a cache hit is instant.
#include "kernel/kernel.h"

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/signals.h"
#include "cache/inventory.h"

namespace romimg::kernel {

namespace sfs = std::filesystem;

std::string recipe(const std::string& arch) {
    return "romimg-kernel-2: ARCH=" + arch +
           " merge_config.sh -n (allnoconfig) + common.config + " + arch +
           ".config; romlock/ -> security/romlock/; patches/*.patch -p1 in name order; make "
           "bzImage";
}

std::string arch_source_dir(const std::string& arch) {
    // Named by kernel ARCH rather than Debian arch: the fragment's name, `make ARCH=` and this
    // value are then one string, with no mapping to keep in step.
    if (arch == "x86_64" || arch == "i386") return "x86";
    throw UsageError(fmt::format("kernel ARCH '{}' is not supported: use x86_64 or i386", arch));
}

std::vector<std::string> fragment_names(const std::string& arch) {
    return {"common.config", arch + ".config"};
}

std::string cache_key(const KernelInputs& in) {
    // Length-prefixed fields: no two different inputs serialize to the same bytes.
    std::string s;
    auto field = [&s](const std::string& v) {
        s += std::to_string(v.size());
        s += ':';
        s += v;
        s += ';';
    };
    field(in.recipe);
    field(in.source_version);
    field(in.compiler);
    field(std::to_string(in.files.size()));
    for (const auto& [name, data] : in.files) {  // std::map: sorted by name
        field(name);
        field(data);
    }
    return fs::sha256_hex(s);
}

bool is_build_input(const std::string& rel, const std::string& arch) {
    auto ends_with = [&rel](const std::string& suffix) {
        return rel.size() >= suffix.size() &&
               rel.compare(rel.size() - suffix.size(), suffix.size(), suffix) == 0;
    };
    if (rel.find('/') == std::string::npos) return rel == "common.config" || rel == arch + ".config";
    if (rel.rfind("romlock/", 0) == 0) return rel.find('/', 8) == std::string::npos;
    if (rel.rfind("patches/", 0) == 0)
        return rel.find('/', 8) == std::string::npos && ends_with(".patch");
    return false;
}

static std::string trim(const std::string& s) {
    size_t b = s.find_first_not_of(" \t\r");
    if (b == std::string::npos) return "";
    size_t e = s.find_last_not_of(" \t\r");
    return s.substr(b, e - b + 1);
}

static bool is_option_name(const std::string& s) {
    if (s.rfind("CONFIG_", 0) != 0 || s.size() == 7) return false;
    for (char c : s)
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
    return true;
}

// Parses one line of a fragment or .config: {name, value} or nullopt for anything else.
static std::optional<std::pair<std::string, std::string>> parse_config_line(const std::string& raw) {
    std::string line = trim(raw);
    if (line.empty()) return std::nullopt;
    if (line[0] == '#') {
        // "# CONFIG_FOO is not set"
        const std::string tail = " is not set";
        std::string body = trim(line.substr(1));
        if (body.size() > tail.size() &&
            body.compare(body.size() - tail.size(), tail.size(), tail) == 0) {
            std::string name = body.substr(0, body.size() - tail.size());
            if (is_option_name(name)) return std::make_pair(name, std::string("n"));
        }
        return std::nullopt;
    }
    size_t eq = line.find('=');
    if (eq == std::string::npos) return std::make_pair(line, std::string());  // caller rejects
    return std::make_pair(line.substr(0, eq), line.substr(eq + 1));
}

std::vector<FragmentOption> parse_fragment(const std::string& text, const std::string& file) {
    std::vector<FragmentOption> out;
    std::map<std::string, std::string> seen;  // name → where
    std::istringstream in(text);
    std::string raw;
    long lineno = 0;
    while (std::getline(in, raw)) {
        ++lineno;
        auto kv = parse_config_line(raw);
        if (!kv) continue;
        auto& [name, value] = *kv;
        if (!is_option_name(name) || value.empty())
            throw ConfigError(file, lineno,
                              "expected CONFIG_NAME=value or '# CONFIG_NAME is not set', got '" +
                                  trim(raw) + "'");
        if (value == "n" && trim(raw)[0] != '#')
            throw ConfigError(file, lineno,
                              "write '# " + name + " is not set' instead of " + name +
                                  "=n (Kconfig does not read =n)");
        std::string where = fmt::format("{}:{}", file, lineno);
        if (auto it = seen.find(name); it != seen.end())
            throw ConfigError(file, lineno, name + " is already set at " + it->second);
        seen[name] = where;
        out.push_back({name, value, where});
    }
    return out;
}

std::map<std::string, std::string> parse_dotconfig(const std::string& text) {
    std::map<std::string, std::string> out;
    std::istringstream in(text);
    std::string raw;
    while (std::getline(in, raw)) {
        auto kv = parse_config_line(raw);
        if (kv && is_option_name(kv->first) && !kv->second.empty()) out[kv->first] = kv->second;
    }
    return out;
}

std::vector<std::string> config_mismatches(const std::vector<FragmentOption>& wanted,
                                           const std::map<std::string, std::string>& dotconfig) {
    std::vector<std::string> out;
    for (const auto& w : wanted) {
        auto it = dotconfig.find(w.name);
        std::string got = it == dotconfig.end() ? "n" : it->second;
        if (got == w.value) continue;
        std::string shown = it == dotconfig.end()
                                ? "does not have it (unknown option or unmet dependency)"
                            : got == "n" ? "has it not set"
                                         : "has " + w.name + "=" + got;
        out.push_back(fmt::format("{}: asked for {}={}, but the final .config {}", w.where,
                                  w.name, w.value, shown));
    }
    return out;
}

sfs::path resolve_cache_dir(const std::optional<std::string>& cli, const char* env_cache,
                            const char* env_home) {
    if (cli && !cli->empty()) return sfs::path(*cli);
    if (env_cache && *env_cache) return sfs::path(env_cache);
    if (env_home && *env_home) return sfs::path(env_home) / ".cache" / "romimg";
    throw Error("cannot find a cache directory: neither ROMIMG_CACHE nor HOME is set; set ROMIMG_CACHE=DIR "
                "(`romimg kernel` also takes --cache-dir DIR)");
}

Command unpack_command(const sfs::path& tarball, const sfs::path& dest, const sfs::path& log) {
    return Command{{"tar", "-xJf", tarball.string(), "-C", dest.string()}, {}, {}, log};
}

Command patch_command(const sfs::path& tree, const sfs::path& patch, const sfs::path& log) {
    return Command{{"patch", "-p1", "--forward", "--batch", "--no-backup-if-mismatch", "-i",
                    patch.string()},
                   {},
                   tree,
                   log};
}

Command merge_config_command(const sfs::path& tree, const std::string& arch,
                             const std::vector<sfs::path>& fragments, const sfs::path& log) {
    // -n: start from allnoconfig, so only what the fragments ask for (and its dependencies)
    // is in the kernel.
    Command c{{(tree / "scripts/kconfig/merge_config.sh").string(), "-n"},
              {{"ARCH", arch}},
              tree,
              log};
    for (const auto& f : fragments) c.argv.push_back(f.string());
    return c;
}

Command make_bzimage_command(const sfs::path& tree, const std::string& arch, int jobs,
                             const sfs::path& log) {
    // KBUILD_BUILD_* keep the host's name and the build time out of the image.
    return Command{{"make", "ARCH=" + arch, fmt::format("-j{}", jobs), "bzImage"},
                   {{"KBUILD_BUILD_USER", "romimg"},
                    {"KBUILD_BUILD_HOST", "romimg"},
                    {"KBUILD_BUILD_TIMESTAMP", "1970-01-01"}},
                   tree,
                   log};
}

static std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

static std::string source_version(const KernelOptions& opt) {
    Command query{{"dpkg-query", "-W", "-f=${Version}", opt.source_package}, {}, {}, "/dev/null"};
    if (!find_program("dpkg-query").empty() && run_status(query) == 0) {
        std::string v = trim(run_capture(query));
        if (!v.empty()) return opt.source_package + " " + v;
    }
    // Not from a package (or no dpkg): the tarball itself identifies the source.
    return "sha256:" + fs::sha256_file(opt.source_tarball);
}

KernelInputs read_inputs(const KernelOptions& opt) {
    if (!sfs::is_regular_file(opt.source_tarball))
        throw Error(fmt::format("kernel source {} not found; install it with `make deps` "
                                "(apt-get install {})",
                                opt.source_tarball.string(), opt.source_package));
    if (!sfs::is_directory(opt.config_dir))
        throw Error(fmt::format("kernel config directory {} not found",
                                opt.config_dir.string()));
    if (find_program("gcc").empty())
        throw Error("gcc not found; install the build tools with `make deps`");
    arch_source_dir(opt.arch);  // refuses an unknown arch before any work
    for (const auto& name : fragment_names(opt.arch))
        if (!sfs::is_regular_file(opt.config_dir / name))
            throw Error(fmt::format(
                "{} not found: the kernel is configured from common.config plus one fragment "
                "per kernel ARCH ({}); create it (an empty file is fine)",
                (opt.config_dir / name).string(), fmt::join(fragment_names(opt.arch), " + ")));
    KernelInputs in;
    in.recipe = recipe(opt.arch);
    in.source_version = source_version(opt);
    in.compiler = first_line(run_capture(Command{{"gcc", "--version"}, {}, {}, {}}));
    for (const auto& e : sfs::recursive_directory_iterator(opt.config_dir)) {
        if (!e.is_regular_file()) continue;
        std::string rel = sfs::relative(e.path(), opt.config_dir).generic_string();
        if (is_build_input(rel, opt.arch)) in.files[rel] = fs::read_file(e.path());
    }
    return in;
}

// Writes the kernel-config/ files into the unpacked tree: romlock/ → security/romlock/.
static void add_romlock(const KernelInputs& in, const sfs::path& tree) {
    sfs::create_directories(tree / "security" / "romlock");
    for (const auto& [rel, data] : in.files)
        if (rel.rfind("romlock/", 0) == 0)
            fs::write_file_atomic(tree / "security" / rel, data);
}

static sfs::path single_subdir(const sfs::path& dir) {
    std::vector<sfs::path> found;
    for (const auto& e : sfs::directory_iterator(dir))
        if (e.is_directory()) found.push_back(e.path());
    if (found.size() != 1)
        throw Error(fmt::format("expected one top-level directory in the kernel tarball, "
                                "found {} in {}",
                                found.size(), dir.string()));
    return found[0];
}

static void verify_config(const KernelInputs& in, const std::string& arch, const sfs::path& tree,
                          const sfs::path& config_dir) {
    // A later fragment overrides an earlier one for the same option, as the merge does (the
    // per-arch fragment turns off what its arch cannot have).
    std::vector<FragmentOption> wanted;
    for (const auto& rel : fragment_names(arch)) {
        for (auto& o : parse_fragment(in.files.at(rel), (config_dir / rel).string())) {
            std::erase_if(wanted, [&](const FragmentOption& w) { return w.name == o.name; });
            wanted.push_back(std::move(o));
        }
    }
    auto bad = config_mismatches(wanted, parse_dotconfig(fs::read_file(tree / ".config")));
    if (bad.empty()) return;
    std::string msg = "the kernel configuration lost options the fragment asks for:\n";
    for (const auto& b : bad) msg += "  " + b + "\n";
    msg += "  (fix the fragment: enable the options these depend on, see `make menuconfig` "
           "help for each)";
    throw Error(msg);
}

namespace {

// On a terminal, a live count of the files make has compiled (one "  CC" line each in the
// log), redrawn every second on stderr; nothing at all when stderr is not a terminal.
class MakeProgress {
public:
    explicit MakeProgress(sfs::path log) : log_(std::move(log)) {
        if (::isatty(STDERR_FILENO) && log::level() >= log::Level::normal)
            thread_ = std::thread([this] { loop(); });
    }
    ~MakeProgress() {
        if (!thread_.joinable()) return;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_ = true;
        }
        wake_.notify_all();
        thread_.join();
        std::fputs("\r\033[K", stderr);
    }
    MakeProgress(const MakeProgress&) = delete;
    MakeProgress& operator=(const MakeProgress&) = delete;

private:
    void loop() {
        const auto start = std::chrono::steady_clock::now();
        std::ifstream in;
        long compiled = 0;
        std::string line;
        std::unique_lock<std::mutex> lock(mutex_);
        while (!wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; })) {
            if (!in.is_open()) in.open(log_);
            in.clear();  // continue after the previous end of file
            while (std::getline(in, line))
                if (line.rfind("  CC ", 0) == 0) ++compiled;
            auto secs = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::steady_clock::now() - start)
                            .count();
            std::fprintf(stderr, "\r\033[K  make: %ld files compiled, %lld s", compiled,
                         static_cast<long long>(secs));
        }
    }

    sfs::path log_;
    std::thread thread_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stop_ = false;
};

}  // namespace

namespace {

// A failed step's error, pointing at the log kept in logs/ (the temporary tree goes away), and
// saying plainly when the cache's disk is full.
Error explain_failure(const ToolError& e, const sfs::path& tmp_log, const sfs::path& kept_log, const sfs::path& root) {
    std::string msg = e.what();
    for (size_t at = 0; (at = msg.find(tmp_log.string(), at)) != std::string::npos; at += kept_log.string().size())
        msg.replace(at, tmp_log.string().size(), kept_log.string());
    if (msg.find("No space left on device") == std::string::npos) return Error(msg);
    return Error(fmt::format("the kernel cache {} is on a full disk (No space left on device): a kernel build needs "
                             "about 2 GB there. Free space (`romimg cache prune` drops what no build can use), or "
                             "point --cache-dir or $ROMIMG_CACHE at a bigger disk. Nothing was added to the cache.\n{}",
                             root.string(), msg));
}

}  // namespace

KernelResult build_kernel(const KernelOptions& opt) {
    if (opt.jobs < 1) throw UsageError(fmt::format("--jobs must be at least 1, got {}", opt.jobs));
    const sfs::path root = opt.cache_dir / "kernel";

    KernelInputs in;
    std::string key;
    {
        auto st = log::stage("kernel: hash inputs");
        in = read_inputs(opt);
        key = cache_key(in);
        st.detail(fmt::format("{} files from {}, {}, key {}", in.files.size(),
                              opt.config_dir.string(), in.source_version, key.substr(0, 16)));
    }
    if (!opt.packaged_dir.empty()) {
        const sfs::path pkg = opt.packaged_dir / key;
        std::error_code ec;
        if (sfs::is_regular_file(pkg / "bzImage", ec)) {
            KernelResult r{pkg / "bzImage", key, true, pkg / "config", in.source_version, in.compiler};
            r.packaged = true;
            return r;
        }
    }
    const sfs::path entry = root / key;
    if (sfs::is_regular_file(entry / "bzImage")) {
        cache::mark_used(entry);
        return {entry / "bzImage", key, true, entry / "config", in.source_version, in.compiler};
    }

    // Ctrl-C / SIGTERM: finish the current step, then unwind so the temporary tree goes away.
    signals::install_interrupt_handlers();
    sfs::create_directories(root / "logs");
    const sfs::path failed_log = root / "logs" / (key + ".failed.log");
    fs::TempDir tmp(root, ".build-" + key.substr(0, 16) + "-");
    const sfs::path log = tmp.path() / "build.log";
    log::info("kernel: building in {} (log: {})", tmp.path().string(), log.string());

    // On any failure, keep the log where the error message points, and nothing else.
    struct KeepLogOnFailure {
        sfs::path log, dest;
        int uncaught = std::uncaught_exceptions();
        ~KeepLogOnFailure() {
            if (std::uncaught_exceptions() == uncaught) return;
            std::error_code ec;
            sfs::copy_file(log, dest, sfs::copy_options::overwrite_existing, ec);
            if (!ec) {
                log::write_err("romimg: kernel build log kept at " + dest.string());
                return;
            }
            sfs::remove(dest, ec);  // never a truncated log (a full disk) where the error points
            log::write_err("romimg: the kernel build log could not be kept at " + dest.string() + " (its disk is full?)");
        }
    } keep_log{log, failed_log};

    sfs::path tree, bzimage_in_tree;
    try {
        {
            auto st = log::stage("kernel: unpack");
            run(unpack_command(opt.source_tarball, tmp.path(), log));
            signals::throw_if_interrupted();
            tree = single_subdir(tmp.path());
            bzimage_in_tree = tree / "arch" / arch_source_dir(opt.arch) / "boot" / "bzImage";
            st.detail(tree.filename().string());
        }
        {
            auto st = log::stage("kernel: add romlock and patches");
            add_romlock(in, tree);
            int n = 0;
            for (const auto& [rel, data] : in.files) {
                if (rel.rfind("patches/", 0) != 0) continue;
                run(patch_command(tree, opt.config_dir / rel, log));
                signals::throw_if_interrupted();
                ++n;
            }
            st.detail(fmt::format("{} patches", n));
        }
        {
            auto st = log::stage("kernel: configure");
            // Merge order matters: the arch fragment comes last, so it may override common.config.
            std::vector<sfs::path> fragments;
            for (const auto& rel : fragment_names(opt.arch)) fragments.push_back(opt.config_dir / rel);
            run(merge_config_command(tree, opt.arch, fragments, log));
            signals::throw_if_interrupted();
            verify_config(in, opt.arch, tree, opt.config_dir);
            st.detail(fmt::format("{} fragment(s), every requested option verified",
                                  fragments.size()));
        }
        {
            auto st = log::stage(fmt::format("kernel: make bzImage -j{}", opt.jobs));
            {
                MakeProgress progress(log);
                run(make_bzimage_command(tree, opt.arch, opt.jobs, log));
            }
            signals::throw_if_interrupted();
            st.detail(fmt::format("{} bytes", sfs::file_size(bzimage_in_tree)));
        }
    } catch (const ToolError& e) {
        throw explain_failure(e, log, failed_log, root);
    }

    // Assemble the entry next to its final place, then publish it with one rename.
    const sfs::path staged = tmp.path() / "entry";
    sfs::create_directories(staged);
    sfs::copy_file(bzimage_in_tree, staged / "bzImage");
    sfs::copy_file(tree / ".config", staged / "config");
    std::string manifest = fmt::format("key {}\nrecipe {}\nsource {}\ncompiler {}\n", key,
                                       in.recipe, in.source_version, in.compiler);
    for (const auto& [rel, data] : in.files)
        manifest += fmt::format("file {} {}\n", rel, fs::sha256_hex(data));
    fs::write_file_atomic(staged / "inputs.txt", manifest);
    sfs::copy_file(log, staged / "build.log");
    signals::throw_if_interrupted();  // an interrupted build publishes nothing
    if (::rename(staged.c_str(), entry.c_str()) != 0) {
        // Another build of the same key won the race: its entry is just as good.
        if (!(errno == EEXIST || errno == ENOTEMPTY) || !sfs::is_regular_file(entry / "bzImage"))
            throw SysError("rename", std::vector<std::string>{staged.string(), entry.string()},
                           errno);
    }
    std::error_code ec;
    sfs::remove(failed_log, ec);
    log::info("==> kernel: built {}", (entry / "bzImage").string());
    return {entry / "bzImage", key, false, entry / "config", in.source_version, in.compiler};
}

}  // namespace romimg::kernel
